#include "client/status_query.h"

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "common/unique_fd.h"
#include "common/unix_socket.h"
#include "common/wire.h"

namespace viasock {
namespace {

using Clock = std::chrono::steady_clock;

struct Query {
  SocketAddress address;  // keeps the directory open for long paths
  UniqueFd fd;
  std::string reply;
  wire::FrameDecoder decoder;
  bool connected = false, done = false, failed = false;
};

// A non-blocking connect: a daemon whose backlog is full (it stopped
// accepting) makes connect(2) fail with EAGAIN instead of blocking.
void try_connect(Query& q, const std::string& hello) {
  sockaddr_un sa{};
  sa.sun_family = AF_UNIX;
  const std::string& address = q.address.address();
  std::memcpy(sa.sun_path, address.data(), address.size());
  if (!q.fd) q.fd.reset(socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!q.fd) return void(q.failed = true);
  if (connect(q.fd.get(), reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) {
    if (errno == EAGAIN || errno == EINTR) return;  // try again on the next round
    return void(q.failed = true);
  }
  q.connected = true;
  // A few bytes into an empty socket buffer: never blocks.
  if (send(q.fd.get(), hello.data(), hello.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(hello.size())) q.failed = true;
}

void read_reply(Query& q) {
  char buffer[4096];
  ssize_t n = read(q.fd.get(), buffer, sizeof buffer);
  if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
  if (n <= 0) return void(q.failed = true);
  bool ok = q.decoder.feed(std::string_view(buffer, static_cast<size_t>(n)),
                           [&](wire::FrameType type, std::string_view bytes) {
                             if (type == wire::kData) q.reply.append(bytes);
                             if (type == wire::kExit) q.done = true;
                           });
  if (!ok) q.failed = true;
}

}  // namespace

std::vector<std::optional<std::string>> ask_daemons(const std::vector<std::string>& sockets, std::string_view request,
                                                    std::chrono::milliseconds timeout) {
  std::string hello = wire::encode_frame(wire::kHello, request);
  std::vector<Query> queries(sockets.size());
  for (size_t i = 0; i < sockets.size(); ++i) {
    std::string ignored;
    if (!queries[i].address.open(sockets[i], &ignored)) queries[i].failed = true;
  }
  auto deadline = Clock::now() + timeout;
  while (Clock::now() < deadline) {
    std::vector<pollfd> waiting;
    std::vector<Query*> owners;
    bool retry = false;
    for (Query& q : queries) {
      if (q.done || q.failed) continue;
      if (!q.connected) try_connect(q, hello);
      if (q.failed) continue;
      if (!q.connected) {
        retry = true;
        continue;
      }
      waiting.push_back({q.fd.get(), POLLIN, 0});
      owners.push_back(&q);
    }
    if (waiting.empty() && !retry) break;
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    int wait_ms = static_cast<int>(std::max<long long>(0, retry ? std::min<long long>(left, 20) : left));
    if (poll(waiting.data(), waiting.size(), wait_ms) < 0 && errno != EINTR) break;
    for (size_t i = 0; i < waiting.size(); ++i)
      if (waiting[i].revents) read_reply(*owners[i]);
  }
  std::vector<std::optional<std::string>> replies(sockets.size());
  for (size_t i = 0; i < sockets.size(); ++i)
    if (queries[i].done) replies[i] = std::move(queries[i].reply);
  return replies;
}

}  // namespace viasock
