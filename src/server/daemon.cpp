#include "server/daemon.h"

#include <fcntl.h>
#include <malloc.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <ctime>

#include "common/exit_codes.h"
#include "common/server_id.h"
#include "common/tool_path.h"
#include "common/wire.h"
#include "common/daemon_info.h"
#include "server/session.h"

namespace viasock {
namespace {

// How often the daemon checks whether the tool or its files changed.
constexpr auto kIdentityInterval = std::chrono::seconds(1);
// After the tool failed at start-up, new clients still get its error for a
// moment (the client that spawned us connects right after "ready").
constexpr auto kFatalGrace = std::chrono::seconds(1);
// Bound on waiting for sessions to flush their last words at exit.
constexpr auto kExitGrace = std::chrono::seconds(5);

std::chrono::steady_clock::duration seconds(double value) {
  return std::chrono::duration_cast<std::chrono::steady_clock::duration>(std::chrono::duration<double>(value));
}

}  // namespace

Daemon::Daemon(DaemonConfig config)
    : config_(std::move(config)),
      signals_(io_, SIGCHLD, SIGTERM, SIGINT),
      idle_timer_(io_),
      identity_timer_(io_),
      exit_timer_(io_) {
  size_t slash = config_.socket_path.rfind('/');
  id_ = slash == std::string::npos ? config_.socket_path : config_.socket_path.substr(slash + 1);
}

Daemon::~Daemon() = default;

int Daemon::run() {
  int status = 0;
  std::string error;
  if (!prepare(&status, &error)) {
    spdlog::error("{}", error);
    report("error " + std::to_string(status) + "\n" + error + "\n");
    return status;
  }
  spdlog::info("listening on {} (pid {})", config_.socket_path, getpid());
  started_ = idle_since_ = std::chrono::steady_clock::now();
  report("ready\n");
  accept();
  arm_idle_timer();
  watch_identity();
  io_.run();
  spdlog::info("exiting");
  return kExitOk;
}

bool Daemon::prepare(int* status, std::string* error) {
  const RunOptions& options = config_.options;
  wait_signals();
  input_framer_ = make_framer(options.input_format);
  if (!config_.state_dir.empty()) {
    managed_ = true;
    if (!state_.open(config_.state_dir, error)) return (*status = kExitDaemon), false;
  }
  PoolConfig pool_config;
  if (!make_tool_command(options.tool, options.args, options.line_buffered, &pool_config.command, status, error))
    return false;
  identity_ = compute_server_id(options, current_context(resolve_tool(options.tool).path));
  pool_config.output_format = options.output_format;
  pool_config.prelude_records = options.prelude_records;
  pool_config.prelude_lines = options.prelude_lines;
  pool_config.record_timeout = options.record_timeout;
  pool_config.instances = options.instances;
  pool_config.min_instances = options.min_instances;
  pool_config.max_records = options.max_records;
  pool_ = std::make_unique<Pool>(io_, std::move(pool_config),
                                 [this](int s, const std::string& message) { on_fatal(s, message); });
  if (!pool_->start(status, error)) return false;
  if (!bind_socket(error)) return (*status = kExitDaemon), false;
  if (managed_) write_metadata();
  return true;
}

bool Daemon::bind_socket(std::string* error) {
  if (!address_.open(config_.socket_path, error)) return false;
  if (!managed_) {
    // A foreground server replaces a dead socket, never a live daemon.
    if (connect_unix(address_.address())) {
      *error = "a daemon already listens on " + config_.socket_path;
      return false;
    }
    unlinkat(address_.dir_fd(), address_.name().c_str(), 0);
  }
  boost::system::error_code ec;
  acceptor_ = std::make_unique<asio::local::stream_protocol::acceptor>(io_);
  asio::local::stream_protocol::endpoint endpoint(address_.address());
  acceptor_->open(endpoint.protocol(), ec);
  if (!ec) acceptor_->bind(endpoint, ec);
  if (!ec) acceptor_->listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    *error = "cannot listen on " + config_.socket_path + ": " + ec.message();
    return false;
  }
  fcntl(acceptor_->native_handle(), F_SETFD, FD_CLOEXEC);
  struct stat st;
  if (fstatat(address_.dir_fd(), address_.name().c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0) {
    socket_dev_ = st.st_dev;
    socket_ino_ = st.st_ino;
  }
  accepting_ = true;
  return true;
}

void Daemon::report(const std::string& text) {
  if (config_.ready_fd < 0) {
    if (text != "ready\n") fprintf(stderr, "viasock: error: %s", text.substr(text.find('\n') + 1).c_str());
    return;
  }
  (void)!write(config_.ready_fd, text.data(), text.size());
  close(config_.ready_fd);
  config_.ready_fd = -1;
}

void Daemon::accept() {
  if (!accepting_) return;
  acceptor_->async_accept([this](const boost::system::error_code& error, LocalSocket socket) {
    on_accept(error, std::move(socket));
  });
}

void Daemon::on_accept(const boost::system::error_code& error, LocalSocket socket) {
  if (error == asio::error::operation_aborted || !accepting_) return;
  if (error) {
    spdlog::warn("accept failed: {}", error.message());
    return accept();
  }
  fcntl(socket.native_handle(), F_SETFD, FD_CLOEXEC);
  if (!peer_is_owner(socket)) return accept();
  auto session = std::make_shared<Session>(std::move(socket), *pool_, *input_framer_, *this);
  sessions_.insert(session);
  session->start();
  if (!fatal_message_.empty()) session->fail(fatal_status_, fatal_message_);
  accept();
}

// Only the daemon's own user may talk to it (and to its tool).
bool Daemon::peer_is_owner(LocalSocket& socket) {
  ucred peer{};
  socklen_t length = sizeof peer;
  if (getsockopt(socket.native_handle(), SOL_SOCKET, SO_PEERCRED, &peer, &length) == 0 && peer.uid == geteuid())
    return true;
  spdlog::warn("refused a connection from uid {} pid {}", peer.uid, peer.pid);
  // Best effort, never blocking: tell the refused client why.
  std::string refusal = wire::encode_exit(kExitDaemon, "the daemon refused the connection: uid " +
                                                           std::to_string(peer.uid) + " is not its owner");
  ::send(socket.native_handle(), refusal.data(), refusal.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
  return false;
}

void Daemon::run_started() {
  ++calls_;
  ++run_clients_;
  idle_timer_.cancel();
}

void Daemon::session_closed(Session* session) {
  // Erased later: the session is still running its own close().
  asio::post(io_, [this, keep = session->shared_from_this()] {
    sessions_.erase(keep);
    if (keep->runs_records() && --run_clients_ == 0) on_last_run_client_gone();
    if (sessions_.empty() && (draining_ || stopping_)) maybe_exit();
  });
}

std::string Daemon::status_json() const {
  using std::chrono::duration;
  auto now = std::chrono::steady_clock::now();
  double idle = run_clients_ > 0 ? 0 : duration<double>(now - idle_since_).count();
  char numbers[64];
  auto seconds_text = [&](double value) {
    snprintf(numbers, sizeof numbers, "%.1f", value);
    return std::string(numbers);
  };
  return "{\"pid\": " + std::to_string(getpid()) + ", \"instances\": " + std::to_string(pool_->current_instances()) +
         ", \"min_instances\": " + std::to_string(pool_->min_instances()) +
         ", \"max_instances\": " + std::to_string(pool_->max_instances()) + ", \"clients\": " + std::to_string(run_clients_) +
         ", \"calls\": " + std::to_string(calls_) + ", \"records\": " + std::to_string(pool_->records_answered()) +
         ", \"uptime\": " + seconds_text(duration<double>(now - started_).count()) +
         ", \"idle\": " + seconds_text(idle) + ", \"draining\": " + (draining_ ? "true" : "false") + "}\n";
}

void Daemon::on_last_run_client_gone() {
  idle_since_ = std::chrono::steady_clock::now();
  // Give back what a crowd of clients made the heap grow to.
  malloc_trim(0);
  arm_idle_timer();
}

void Daemon::arm_idle_timer() {
  double idle = config_.options.idle_timeout;
  if (idle <= 0 || run_clients_ > 0 || draining_) return;
  idle_timer_.expires_after(seconds(idle));
  idle_timer_.async_wait([this](const boost::system::error_code& error) {
    if (!error && run_clients_ == 0) drain("idle for " + std::to_string(config_.options.idle_timeout) + " s");
  });
}

// A changed tool or argument file means new calls compute a new ID and go to
// a new daemon; this one finishes its clients and leaves.
void Daemon::watch_identity() {
  identity_timer_.expires_after(kIdentityInterval);
  identity_timer_.async_wait([this](const boost::system::error_code& error) {
    if (error || draining_) return;
    ResolvedTool tool = resolve_tool(config_.options.tool);
    if (tool.path.empty() || compute_server_id(config_.options, current_context(tool.path)) != identity_)
      return drain("the tool or one of its files changed");
    watch_identity();
  });
}

void Daemon::wait_signals() {
  signals_.async_wait([this](const boost::system::error_code& error, int signal) {
    if (error) return;
    if (signal == SIGCHLD) {
      if (pool_) pool_->reap();
    } else if (!draining_) {
      drain(std::string("received ") + strsignal(signal));
    } else {
      spdlog::info("second {}: stopping now", strsignal(signal));
          for (auto& session : std::set(sessions_)) session->fail(kExitDaemon, "the viasock daemon was stopped");
      stop();
    }
    wait_signals();
  });
}

void Daemon::on_fatal(int status, const std::string& message) {
  if (!fatal_message_.empty()) return;
  fatal_status_ = status;
  fatal_message_ = message;
  for (auto& session : std::set(sessions_)) session->fail(status, message);
  exit_timer_.expires_after(kFatalGrace);
  exit_timer_.async_wait([this](const boost::system::error_code& error) {
    if (!error) drain("the tool cannot be served");
  });
}

// Stops taking clients; exits once the current ones are done.
void Daemon::drain(const std::string& reason) {
  if (draining_) return;
  draining_ = true;
  spdlog::info("stopping: {}; {} client(s) to finish", reason, sessions_.size());
  stop_accepting();
  identity_timer_.cancel();
  idle_timer_.cancel();
  if (sessions_.empty()) stop();
}

void Daemon::stop() {
  if (stopping_) return;
  stopping_ = true;
  draining_ = true;
  stop_accepting();
  pool_->stop([this] {
    pool_stopped_ = true;
    maybe_exit();
  });
  exit_timer_.expires_after(kExitGrace);
  exit_timer_.async_wait([this](const boost::system::error_code& error) {
    if (!error) io_.stop();
  });
}

void Daemon::maybe_exit() {
  if (!stopping_) return stop();
  if (pool_stopped_ && sessions_.empty()) io_.stop();
}

// Removes our socket file first, then closes the acceptor: a client that
// connects in between sees no HELLO and starts a new daemon. Under the per-ID
// lock and only while the file is still ours, so a new daemon's socket is
// never removed (see client/connector.cpp).
void Daemon::stop_accepting() {
  if (!accepting_) return;
  accepting_ = false;
  IdLock lock;
  std::string error;
  if (managed_ && !lock.acquire(state_, id_, &error)) spdlog::warn("{}", error);
  struct stat st;
  if (fstatat(address_.dir_fd(), address_.name().c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 &&
      st.st_dev == socket_dev_ && st.st_ino == socket_ino_)
    unlinkat(address_.dir_fd(), address_.name().c_str(), 0);
  if (managed_) remove_metadata(state_, id_);
  boost::system::error_code ignored;
  acceptor_->close(ignored);
}

void Daemon::write_metadata() {
  DaemonInfo info;
  info.id = id_;
  info.pid = getpid();
  info.options = config_.options;
  info.socket = config_.socket_path;
  info.log = config_.options.log_file.empty() ? state_.log_path(id_) : config_.options.log_file;
  info.started = time(nullptr);
  std::string error;
  if (!viasock::write_metadata(state_, info, &error)) spdlog::warn("{}", error);
}

}  // namespace viasock
