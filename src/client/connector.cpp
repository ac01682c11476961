// How a client finds its daemon, and why this order is safe.
//
// Races to survive: many first calls of one command at the same moment; a
// daemon that is exiting (idle, stale) while a client connects; a daemon
// killed with kill -9 that left its socket file behind; a client killed while
// it was starting a daemon.
//
// 1. Connect to sockets/<ID> without any lock: the warm path costs one
//    connect(2). A connection only counts once the daemon has sent HELLO; a
//    daemon that is shutting down removes its socket before it closes its
//    acceptor, so a client caught in between sees EOF instead of HELLO,
//    nothing of its input has been sent yet, and it simply tries again.
// 2. Otherwise take the per-ID lock (flock: the kernel releases it when its
//    holder dies, so a killed client cannot wedge the ID) and connect once
//    more: another client may have started the daemon while we waited.
// 3. Still nothing: the socket file, if any, belongs to a dead daemon (a live
//    one would have accepted), so remove it, spawn the daemon, and wait for
//    its readiness report while still holding the lock. A daemon removes its
//    socket only under the same lock and only if it is still its own, so
//    neither side can remove the other's fresh socket.
#include "client/connector.h"

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "client/daemon_spawner.h"
#include "common/call_options.h"
#include "common/exit_codes.h"
#include "common/unix_socket.h"
#include "common/wire.h"

namespace viasock {
namespace {

// Generous: a daemon answers HELLO from its event loop within microseconds.
constexpr int kHelloTimeoutMs = 30000;

bool read_exact(int fd, char* data, size_t size) {
  while (size > 0) {
    pollfd pfd{fd, POLLIN, 0};
    int ready = poll(&pfd, 1, kHelloTimeoutMs);
    if (ready < 0 && errno == EINTR) continue;
    if (ready <= 0) return false;
    ssize_t n = read(fd, data, size);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    data += n;
    size -= static_cast<size_t>(n);
  }
  return true;
}

// Sends our HELLO and waits for the daemon's. A daemon that refuses us
// answers EXIT instead; its reason goes to *refusal.
bool greet(int fd, std::string_view request = wire::kRequestRun, std::string* refusal = nullptr) {
  std::string hello = wire::encode_frame(wire::kHello, request);
  if (send(fd, hello.data(), hello.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(hello.size())) return false;
  char header[wire::kHeaderSize];
  if (!read_exact(fd, header, sizeof header)) return false;
  uint32_t length = wire::get_u32(header + 1);
  if (length > 4096 || (header[0] != wire::kHello && header[0] != wire::kExit)) return false;
  char payload[4096];
  if (!read_exact(fd, payload, length)) return false;
  int status = 0;
  if (header[0] == wire::kExit && refusal) wire::decode_exit(std::string_view(payload, length), &status, refusal);
  return header[0] == wire::kHello;
}

UniqueFd try_connect(const SocketAddress& address, std::string_view request) {
  UniqueFd fd = connect_unix(address.address());
  if (fd && !greet(fd.get(), request)) fd.reset();
  return fd;
}

}  // namespace

UniqueFd connect_and_greet(const std::string& path, std::string_view request, std::string* error) {
  SocketAddress address;
  if (!address.open(path, error)) return UniqueFd();
  UniqueFd fd = connect_unix(address.address());
  if (!fd) {
    *error = "cannot connect to '" + path + "': " + std::strerror(errno);
    return fd;
  }
  std::string refusal;
  if (!greet(fd.get(), request, &refusal)) {
    *error = refusal.empty() ? "'" + path + "' did not answer as a viasock daemon" : refusal;
    fd.reset();
  }
  return fd;
}

Connection connect_or_spawn(const RunOptions& options, const StateDir& state, const std::string& id) {
  Connection result;
  SocketAddress address;
  if (!address.open(state.socket_path(id), &result.error)) {
    result.exit_code = kExitDaemon;
    return result;
  }
  std::string request = encode_run_request(CallOptions::from(options));
  // A few rounds: each failed round means a daemon went away between our
  // connect and its HELLO, which a new daemon cures.
  for (int attempt = 0; attempt < 3; ++attempt) {
    result.socket = try_connect(address, request);
    if (result.socket) return result;
    if (options.no_spawn) {
      result.exit_code = kExitDaemon;
      result.error = "no daemon serves this command and --no-spawn was given";
      return result;
    }
    IdLock lock;
    if (!lock.acquire(state, id, &result.error)) {
      result.exit_code = kExitDaemon;
      return result;
    }
    result.socket = try_connect(address, request);
    if (result.socket) return result;
    unlinkat(address.dir_fd(), address.name().c_str(), 0);
    SpawnResult spawn = spawn_daemon(options, state, id);
    if (!spawn.ready) {
      result.exit_code = spawn.exit_code;
      result.error = spawn.message;
      return result;
    }
    result.spawned = true;
    result.socket = try_connect(address, request);
    if (result.socket) return result;
  }
  result.exit_code = kExitDaemon;
  result.error = "cannot reach the daemon at " + state.socket_path(id) + "; see " + state.log_path(id);
  return result;
}

}  // namespace viasock
