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
// 4. The lock is released as soon as the daemon reports ready, before we
//    connect: a daemon that must leave at once (a tiny -W) needs the lock to
//    remove its files, and it never waits for it — it retries — so nothing
//    here waits on a daemon that waits on us.
//
// A daemon that accepts but does not greet within kHelloTimeoutMs (stopped
// with SIGSTOP, or wedged) is alive: its socket is never removed and no
// second daemon is started beside it; the call fails and names its pid.
#include "client/connector.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "client/daemon_spawner.h"
#include "common/call_options.h"
#include "common/exit_codes.h"
#include "common/proc_stat.h"
#include "common/unix_socket.h"
#include "common/wire.h"

namespace viasock {
namespace {

// A daemon answers HELLO from its event loop, which never blocks. One that
// is silent this long is looked at: a stopped one (SIGSTOP, Ctrl-Z) is
// reported at once; a running one (a saturated daemon with clients in its
// backlog) gets up to kHelloPatienceMs.
constexpr int kHelloSliceMs = 2000;
constexpr int kHelloPatienceMs = 60000;

enum class Greeting { kGreeted, kClosed, kSilent, kRefused };

// Whether the process listening on `fd` may be sent the caller's input: it
// runs as the caller (or as root, who could read the input anyway). Another
// user listening where the caller looks (a socket in /tmp, a path from a
// script) would receive the input and could forge the output. In a
// directory others may write, the socket file must also be the caller's
// (or root's), as the kernel's protected_symlinks asks of a link there.
bool trusted_peer(int fd, const SocketAddress& address, std::string* error) {
  ucred peer{};
  socklen_t length = sizeof peer;
  if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &peer, &length) != 0) {
    *error = "cannot tell who listens at '" + address.path() + "': " + std::strerror(errno);
    return false;
  }
  uid_t me = geteuid();
  if (peer.uid != me && peer.uid != 0) {
    *error = "'" + address.path() + "' is served by another user (uid " + std::to_string(peer.uid) + ", pid " +
             std::to_string(peer.pid) +
             "): viasock sends input only to a daemon of your own; start yours at "
             "a path only you can write";
    return false;
  }
  struct stat dir, file;
  bool shared_dir = fstat(address.dir_fd(), &dir) != 0 || (dir.st_uid != me && dir.st_uid != 0) ||
                    (dir.st_mode & (S_IWGRP | S_IWOTH));
  if (!shared_dir) return true;
  if (fstatat(address.dir_fd(), address.name().c_str(), &file, AT_SYMLINK_NOFOLLOW) == 0 &&
      (file.st_uid == me || file.st_uid == 0))
    return true;
  *error = "'" + address.path() +
           "' is in a directory others may write and is not your own socket: viasock "
           "sends input only to a daemon of your own; start yours at a path only you can write";
  return false;
}

// Whether the daemon on `fd` is stopped (by a signal: T; by a tracer: t).
bool peer_stopped(int fd) {
  char state = process_state(peer_pid(fd));
  return state == 'T' || state == 't';
}

// Reads exactly `size` bytes, waiting as patiently as explained above.
Greeting read_exact(int fd, char* data, size_t size) {
  int waited = 0;
  while (size > 0) {
    pollfd pfd{fd, POLLIN, 0};
    int ready = poll(&pfd, 1, kHelloSliceMs);
    if (ready < 0 && errno == EINTR) continue;
    if (ready == 0) {
      waited += kHelloSliceMs;
      if (waited >= kHelloPatienceMs || peer_stopped(fd)) return Greeting::kSilent;
      continue;
    }
    if (ready < 0) return Greeting::kClosed;
    ssize_t n = read(fd, data, size);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return Greeting::kClosed;
    data += n;
    size -= static_cast<size_t>(n);
  }
  return Greeting::kGreeted;
}

// Sends our HELLO and waits for the daemon's. A daemon that refuses us
// answers EXIT instead; its reason goes to *refusal.
Greeting greet(int fd, std::string_view request, std::string* refusal) {
  std::string hello = wire::encode_frame(wire::kHello, request);
  // A daemon that refuses us may have sent its reason and closed before our
  // HELLO arrives: the send then fails, but the reason is still to be read.
  (void)!send(fd, hello.data(), hello.size(), MSG_NOSIGNAL);
  char header[wire::kHeaderSize];
  if (Greeting got = read_exact(fd, header, sizeof header); got != Greeting::kGreeted) return got;
  uint32_t length = wire::get_u32(header + 1);
  if (length > 1024 || (header[0] != wire::kHello && header[0] != wire::kExit)) return Greeting::kClosed;
  char payload[1024];
  if (Greeting got = read_exact(fd, payload, length); got != Greeting::kGreeted) return got;
  if (header[0] == wire::kHello) return Greeting::kGreeted;
  int status = 0;
  if (!wire::decode_exit(std::string_view(payload, length), &status, refusal) || refusal->empty())
    *refusal = "the daemon refused the connection";
  return Greeting::kRefused;
}

std::string silent_daemon(int fd, const std::string& path) {
  std::string pid = std::to_string(peer_pid(fd));
  if (peer_stopped(fd))
    return "daemon pid " + pid + " at " + path + " does not answer: it is stopped; 'kill -CONT " + pid + "' resumes it";
  return "daemon pid " + pid + " at " + path + " does not answer; if it hangs, 'kill " + pid +
         "' and the next call starts a new one";
}

// Greets the daemon connected on `fd` once it is known to be the caller's.
// An untrusted peer, a silent daemon or a refusal is told in *error; a
// daemon that closed without greeting (kClosed) is not: whether that is an
// error is the caller's to say.
Greeting greet_trusted(int fd, const SocketAddress& address, const std::string& path, std::string_view request,
                       std::string* error) {
  if (!trusted_peer(fd, address, error)) return Greeting::kRefused;
  Greeting got = greet(fd, request, error);
  if (got == Greeting::kSilent) *error = silent_daemon(fd, path);
  return got;
}

// Connects and greets. A daemon that does not answer, or refuses us, ends
// the attempt with *error set; an empty result without *error means nobody
// (alive) listens there: one that is exiting closes without greeting.
UniqueFd try_connect(const SocketAddress& address, const std::string& path, std::string_view request,
                     std::string* error) {
  UniqueFd fd = connect_unix(address.address());
  if (fd && greet_trusted(fd.get(), address, path, request, error) != Greeting::kGreeted) fd.reset();
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
  Greeting got = greet_trusted(fd.get(), address, path, request, error);
  if (got == Greeting::kGreeted) return fd;
  if (got == Greeting::kClosed) *error = "'" + path + "' did not answer as a viasock daemon";
  return UniqueFd();
}

Connection connect_or_spawn(const RunOptions& options, const StateDir& state, const std::string& id, bool attach) {
  Connection result;
  SocketAddress address;
  if (!address.open(state.socket_path(id), &result.error)) {
    result.exit_code = kExitDaemon;
    return result;
  }
  // A few rounds: each failed round means a daemon went away between our
  // connect and its HELLO, which a new daemon cures.
  std::string path = state.socket_path(id);
  CallOptions call = CallOptions::from(options);
  call.attach = attach;
  std::string request = encode_run_request(call);
  auto failed = [&result](int code) {
    result.exit_code = code;
    result.socket.reset();
    return std::move(result);
  };
  for (int attempt = 0; attempt < 3; ++attempt) {
    result.socket = try_connect(address, path, request, &result.error);
    if (result.socket) return result;
    if (!result.error.empty()) return failed(kExitDaemon);
    if (options.no_spawn) {
      result.error = "no daemon serves this command and --no-spawn was given";
      return failed(kExitDaemon);
    }
    SpawnResult spawn;
    {
      IdLock lock;
      if (!lock.acquire(state, id, &result.error)) return failed(kExitDaemon);
      result.socket = try_connect(address, path, request, &result.error);
      if (result.socket) return result;
      if (!result.error.empty()) return failed(kExitDaemon);
      unlinkat(address.dir_fd(), address.name().c_str(), 0);
      spawn = spawn_daemon(options, state, id);
    }
    if (!spawn.ready) {
      result.error = spawn.message;
      return failed(spawn.exit_code);
    }
    result.spawned = true;
    result.socket = try_connect(address, path, request, &result.error);
    if (result.socket) return result;
    if (!result.error.empty()) return failed(kExitDaemon);
  }
  result.exit_code = kExitDaemon;
  result.error = "cannot reach the daemon at " + state.socket_path(id) + "; see " + state.log_path(id);
  return result;
}

}  // namespace viasock
