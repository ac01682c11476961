// How a daemon ends: signals, a tool that cannot be served, draining its
// clients, and removing its files. Every path goes through drain() (no new
// clients, the current ones finish) and stop() (the tool instances exit),
// so that no call is cut off and no file is left behind: the lifecycle of
// daemon_state.h, whose transitions are checked here.
#include <spdlog/spdlog.h>

#include <cstring>
#include <set>

#include "common/exit_codes.h"
#include "server/daemon.h"
#include "server/lifecycle.h"
#include "server/own_files.h"
#include "server/session.h"

namespace viasock {
namespace {

// After the tool failed at start-up, new clients still get its error for a
// moment (the client that spawned us connects right after "ready"), and
// `list` shows why the daemon goes, also on a machine busy enough that the
// caller's next command comes a second later.
constexpr auto kFatalGrace = std::chrono::seconds(3);
// Bound on waiting for sessions to flush their last words at exit.
constexpr auto kExitGrace = std::chrono::seconds(5);
// How often to try the per-ID lock again when removing our files.
constexpr auto kLockRetry = std::chrono::milliseconds(20);

}  // namespace

void Daemon::wait_signals() {
  signals_.async_wait([this](const boost::system::error_code& error, int signal) {
    if (error) return;
    if (signal == SIGCHLD) {
      if (pool_) pool_->reap();
    } else if (signal == SIGUSR1 || signal == SIGUSR2) {
      spdlog::info("ignoring {}", strsignal(signal));
    } else if (!draining()) {
      drain(std::string("received ") + strsignal(signal));
    } else {
      spdlog::info("second {}: stopping now", strsignal(signal));
      for (auto& session : std::set(sessions_)) session->fail(kExitDaemon, "the viasock daemon was stopped");
      stop();
    }
    wait_signals();
  });
}

void Daemon::set_state(DaemonState to) { enter_state(&life_, to, "the daemon"); }

void Daemon::on_fatal(ToolFailure failure) {
  if (fatal_) return;
  fatal_ = std::move(failure);
  spdlog::error("the tool cannot be served: {}", fatal_->message);
  for (auto& session : std::set(sessions_)) session->fail(fatal_->status, fatal_->message, fatal_->output);
  exit_timer_.expires_after(kFatalGrace);
  exit_timer_.async_wait([this](const boost::system::error_code& error) {
    if (!error) drain("the tool cannot be served");
  });
}

// Stops taking clients; exits once the current ones are done.
void Daemon::drain(const std::string& reason) {
  if (life_ != DaemonState::kServing) return;
  set_state(DaemonState::kDraining);
  spdlog::info("stopping: {}; {} client(s) to finish", reason, sessions_.size());
  stop_accepting();
  identity_timer_.cancel();
  idle_timer_.cancel();
  if (sessions_.empty()) stop();
}

void Daemon::stop() {
  if (stopping()) return;
  set_state(DaemonState::kStopping);
  stop_accepting();
  pool_->stop([this] {
    set_state(DaemonState::kStopped);
    maybe_exit();
  });
  exit_timer_.expires_after(kExitGrace);
  exit_timer_.async_wait([this](const boost::system::error_code& error) {
    if (!error) io_.stop();
  });
}

void Daemon::maybe_exit() {
  if (!stopping()) return stop();
  if (life_ == DaemonState::kStopped && sessions_.empty()) io_.stop();
}

// Closes the acceptor first: a client waiting in its backlog sees EOF at
// once instead of waiting for a HELLO, and starts a new daemon (see
// client/connector.cpp). Our files go next, under the per-ID lock and only
// while they are ours; the lock may be held by that very client, so it is
// tried without waiting, again and again, while the loop goes on.
void Daemon::stop_accepting() {
  // Drained, then stopped: the acceptor is closed once.
  if (!acceptor_ || !acceptor_->is_open()) return;
  accept_timer_.cancel();
  boost::system::error_code ignored;
  acceptor_->close(ignored);
  remove_files_soon();
}

void Daemon::remove_files_soon() {
  if (files_->try_remove()) return;
  files_timer_.expires_after(kLockRetry);
  files_timer_.async_wait([this](const boost::system::error_code& error) {
    if (!error) remove_files_soon();
  });
}

}  // namespace viasock
