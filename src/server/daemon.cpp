#include "server/daemon.h"

#include <malloc.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <ctime>
#include <nlohmann/json.hpp>

#include "common/exit_codes.h"
#include "common/server_id.h"
#include "common/tool_path.h"
#include "common/daemon_info.h"
#include "server/clock.h"
#include "server/flush_options.h"
#include "server/identity_check.h"
#include "server/own_files.h"
#include "server/scheduler.h"
#include "server/session.h"

namespace viasock {
namespace {

// How often the daemon checks whether the tool or its files changed.
constexpr auto kIdentityInterval = std::chrono::seconds(1);
// The client that spawned us connects right after "ready": a tiny -W must
// not make the daemon leave before that.
constexpr double kFirstClientGrace = 2.0;
// How long no call must have come before the heap is given back.
constexpr auto kTrimAfter = std::chrono::seconds(1);

}  // namespace

Daemon::Daemon(DaemonConfig config)
    : config_(std::move(config)),
      signals_(io_, SIGCHLD, SIGTERM, SIGINT),
      idle_timer_(io_),
      identity_timer_(io_),
      exit_timer_(io_),
      accept_timer_(io_),
      files_timer_(io_),
      trim_timer_(io_) {
  // SIGHUP (terminal gone, or a supervisor's "reload") and SIGQUIT end the
  // daemon as gracefully as SIGTERM; SIGUSR1/2 must not kill it.
  for (int signal : {SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2}) signals_.add(signal);
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
  started_ = idle_since_ = DaemonClock::now();
  report("ready\n");
  accept();
  arm_idle_timer(std::max(idle_timeout_, kFirstClientGrace));
  watch_identity();
  status = serve();
  files_->remove_waiting(std::chrono::seconds(2));
  spdlog::info("exiting");
  return status;
}

// Runs the loop. An exception escaping a handler is a bug: it is logged, the
// clients are told, and the daemon stops; a second one ends it at once.
int Daemon::serve() {
  for (int failures = 0;; ++failures) {
    try {
      io_.run();
      return kExitOk;
    } catch (const std::exception& error) {
      spdlog::error("internal error: {}", error.what());
      if (failures > 0) return kExitDaemon;
      for (auto& session : std::set(sessions_))
        session->fail(kExitDaemon, std::string("internal error in the viasock daemon: ") + error.what());
      stop();
    }
  }
}

bool Daemon::prepare(int* status, std::string* error) {
  const RunOptions& options = config_.options;
  wait_signals();
  input_framer_ = make_framer(options.input_format);
  if (!config_.state_dir.empty()) {
    managed_ = true;
    if (!state_.open(config_.state_dir, error)) return (*status = kExitDaemon), false;
  }
  idle_timeout_ = options.idle_timeout;
  PoolConfig pool_config;
  pool_config.learn = learns_tool(options);
  std::vector<std::string> flush_args =
      pool_config.learn ? automatic_flush_args(options.tool) : std::vector<std::string>{};
  if (!make_tool_command(options.tool, flush_args, options.args, options.line_buffered, &pool_config.command, status,
                         error))
    return false;
  if (!flush_args.empty()) spdlog::info("the tool flushes each line with its own option: adding it");
  identity_ = compute_server_id(options, current_context(resolve_tool(options.tool).path));
  identity_check_ = std::make_unique<IdentityCheck>(io_, options, identity_, config_.state_dir);
  pool_config.command.tracker = identity_check_->tracker();
  pool_config.output_format = options.output_format;
  pool_config.prelude_records = options.prelude_records;
  pool_config.prelude_lines = options.prelude_lines;
  pool_config.instances = options.instances;
  pool_config.stdout_kind = options.pty ? StdoutKind::kTerminal : StdoutKind::kPipe;
  pool_config.flush_hint = flush_option_hint(options.tool);
  pool_config.line_buffered = options.line_buffered;
  pool_config.min_instances = options.min_instances;
  pool_config.max_records = options.max_records;
  // A few stat calls and one SHA-256; watched trees and files read at start go off the loop (watch_identity).
  pool_config.identity_current = [this] {
    if (identity_changed_) return false;
    const RunOptions& options = config_.options;
    if (!options.watch.empty()) return true;
    return compute_server_id(options, current_context(resolve_tool(options.tool).path)) == identity_;
  };
  if (pool_config.learn && managed_) {
    pool_config.profile = read_profile(state_.logs_fd(), id_);
    pool_config.remember = [this](const ToolProfile& profile) {
      std::string error;
      if (write_profile(state_.logs_fd(), id_, profile, &error))
        spdlog::info("remembered what was learned for later daemons of this ID: {}", encode_profile(profile));
      else
        spdlog::warn("{}", error);
    };
    pool_config.forget = [this] {
      spdlog::warn("forgetting what was remembered about the tool");
      remove_profile(state_.logs_fd(), id_);
    };
  }
  pool_ = std::make_unique<Pool>(io_, std::move(pool_config),
                                 [this](ToolFailure failure) { on_fatal(std::move(failure)); });
  if (!pool_->start(status, error)) return false;
  if (!bind_socket(error)) return (*status = kExitDaemon), false;
  // A daemon without run/<ID>.json would be invisible to list and stop.
  if (managed_ && !write_metadata(error)) {
    if (config_.ready_fd >= 0)
      files_->remove_unlocked();
    else
      files_->remove_waiting(std::chrono::seconds(2));
    return (*status = kExitDaemon), false;
  }
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

// A call's -W and -j may raise what the daemon does, never lower it: one
// tool with one model stays loaded once, for the most demanding caller.
uint64_t Daemon::run_started(const CallOptions& call) {
  ++calls_;
  ++run_clients_;
  idle_timer_.cancel();
  if (idle_timeout_ > 0 && call.idle_timeout >= 0 && (call.idle_timeout == 0 || call.idle_timeout > idle_timeout_)) {
    spdlog::info("a call asks for an idle timeout of {} s", call.idle_timeout);
    idle_timeout_ = call.idle_timeout;
  }
  pool_->raise_max(call.instances);
  return calls_;
}

void Daemon::session_closed(Session* session) {
  pool_->session_ended(session);
  // Erased later: the session is still running its own close().
  asio::post(io_, [this, keep = session->shared_from_this()] {
    sessions_.erase(keep);
    if (keep->runs_records() && --run_clients_ == 0) on_last_run_client_gone();
    if (sessions_.empty() && draining()) maybe_exit();
  });
}

std::string Daemon::status_json() const {
  using std::chrono::duration;
  auto now = DaemonClock::now();
  double idle = run_clients_ > 0 ? 0 : duration<double>(now - idle_since_).count();
  auto tenths = [](double seconds) { return std::round(seconds * 10) / 10; };
  const char* state = fatal_ ? "failed" : draining() ? "draining" : pool_->ready() ? "ready" : "starting";
  nlohmann::json status = {
      {"pid", getpid()},
      {"state", state},
      {"instances", config_.options.instances},
      {"clients", run_clients_},
      {"calls", calls_},
      {"records", pool_->records_answered()},
      {"uptime", tenths(duration<double>(now - started_).count())},
      {"idle", tenths(idle)},
      {"draining", draining()},
  };
  bool learned = false;
  std::string learned_args;
  for (const auto& arg : pool_->learned_args(&learned)) learned_args += (learned_args.empty() ? "" : " ") + arg;
  status["learned"] = learned_args;
  status["learning_done"] = learned;
  status["stateful"] = pool_->stateful();
  status["remembered"] = pool_->remembered();
  if (fatal_) status["error"] = fatal_->message;
  status["idle_timeout"] = idle_timeout_;
  status["instances"] = pool_->current_instances();
  status["min_instances"] = pool_->min_instances();
  status["max_instances"] = pool_->max_instances();
  identity_check_->describe(status);
  return status.dump() + "\n";
}

void Daemon::restart_requested() {
  if (draining()) return;
  spdlog::info("restarting the tool: viasock restart");
  pool_->restart();
}

void Daemon::on_last_run_client_gone() {
  idle_since_ = DaemonClock::now();
  trim_when_idle();
  arm_idle_timer();
}

// Gives back what a crowd of clients, or one long stream, made the heap grow
// to, once no call has come for kTrimAfter: calls that follow each other (a
// Makefile's) reuse the memory instead of faulting it in again every time.
void Daemon::trim_when_idle() {
  trim_timer_.expires_after(kTrimAfter);
  trim_timer_.async_wait([this](const boost::system::error_code& error) {
    if (!error && run_clients_ == 0) malloc_trim(0);
  });
}

void Daemon::arm_idle_timer(double idle) {
  if (idle_timeout_ <= 0 || run_clients_ > 0 || draining()) return;
  idle_timer_.expires_after(clock_duration(idle));
  idle_timer_.async_wait([this](const boost::system::error_code& error) {
    if (!error && run_clients_ == 0) drain("idle for " + std::to_string(idle_timeout_) + " s");
  });
}

// A changed tool or argument file gives new calls a new ID; a changed file
// the tool read at start, a new daemon for the same ID once this one has
// removed its socket. Either way this one finishes its clients and leaves, as
// does one whose socket was removed or replaced (no client can reach it).
void Daemon::watch_identity() {
  identity_timer_.expires_after(kIdentityInterval);
  identity_timer_.async_wait([this](const boost::system::error_code& error) {
    if (error || draining()) return;
    if (!files_->socket_is_ours()) return drain("the socket " + config_.socket_path + " was removed or replaced");
    if (identity_check_->tracked_file_changed()) return go_stale();
    identity_check_->start([this](bool unchanged) {
      if (!unchanged) go_stale();
    });
    watch_identity();
  });
}

void Daemon::go_stale() {
  identity_changed_ = true;
  drain("the tool or one of its files changed");
}

bool Daemon::write_metadata(std::string* error) {
  DaemonInfo info;
  info.id = id_;
  info.pid = getpid();
  info.options = config_.options;
  info.socket = config_.socket_path;
  info.log = config_.options.log_file.empty() ? state_.log_path(id_) : config_.options.log_file;
  info.started = time(nullptr);
  if (viasock::write_metadata(state_, info, error)) return true;
  *error += "; the daemon cannot register itself, so it does not start";
  return false;
}

}  // namespace viasock
