// The daemon: owns the listening socket, the sessions and the pool, and
// decides when to stop (idle timeout, stale identity, signals, a tool that
// cannot start).
#pragma once

#include <sys/types.h>

#include <memory>
#include <optional>
#include <set>
#include <string>

#include "common/record_framer.h"
#include "common/run_options.h"
#include "common/state_dir.h"
#include "common/unix_socket.h"
#include "server/asio.h"
#include "server/clock.h"
#include "server/daemon_state.h"
#include "server/descriptor_reserve.h"
#include "server/pool.h"
#include "server/session.h"

namespace viasock {

class IdentityCheck;
class OwnFiles;

struct DaemonConfig {
  RunOptions options;
  std::string socket_path;
  // With a state directory the daemon registers itself (run/<ID>.json) and
  // removes its socket under the per-ID lock; without, it is a foreground
  // server for debugging.
  std::string state_dir;
  int ready_fd = -1;  // where to report "ready" or why not (see daemon_spawner.cpp)
};

class Daemon : public SessionHost {
 public:
  explicit Daemon(DaemonConfig config);
  ~Daemon() override;
  // Serves until it is time to stop; returns the process's exit status.
  int run();

  uint64_t run_started(const CallOptions& call) override;
  void session_closed(Session* session) override;
  std::string status_json() const override;
  const ToolFailure* tool_failure() const override { return fatal_ ? &*fatal_ : nullptr; }
  void stop_requested() override { drain("viasock stop"); }
  void restart_requested() override;

 private:
  int serve();
  bool prepare(int* status, std::string* error);
  bool bind_socket(std::string* error);
  void report(const std::string& text);
  void accept();
  void on_accept(const boost::system::error_code& error, LocalSocket socket);
  void pause_accepting(const boost::system::error_code& error);
  void resume_accepting_later();
  pid_t owner_peer(LocalSocket& socket);
  void on_last_run_client_gone();
  void arm_idle_timer() { arm_idle_timer(idle_timeout_); }
  void arm_idle_timer(double seconds);
  void trim_when_idle();
  void watch_identity();
  // The tool or a file of its identity changed: finish the clients, leave.
  void go_stale();
  void wait_signals();
  void on_fatal(ToolFailure failure);
  void drain(const std::string& reason);
  void stop();
  void stop_accepting();
  void remove_files_soon();
  void maybe_exit();
  // The only way the lifecycle changes (daemon_state.h): checks the transition.
  void set_state(DaemonState to);
  // Taking no new clients: draining them, or past that, stopping.
  bool draining() const { return life_ != DaemonState::kStarting && life_ != DaemonState::kServing; }
  bool stopping() const { return life_ == DaemonState::kStopping || life_ == DaemonState::kStopped; }
  bool write_metadata(std::string* error);

  DaemonConfig config_;
  std::string id_;        // socket file name
  std::string identity_;  // server ID computed at start, for staleness
  asio::io_context io_;
  asio::signal_set signals_;
  Timer idle_timer_, identity_timer_, exit_timer_, accept_timer_, files_timer_, trim_timer_;
  std::unique_ptr<asio::local::stream_protocol::acceptor> acceptor_;
  std::unique_ptr<RecordFramer> input_framer_;
  std::unique_ptr<Pool> pool_;
  StateDir state_;
  bool managed_ = false;
  SocketAddress address_;
  std::unique_ptr<OwnFiles> files_;
  // After io_: its worker thread is joined before the loop goes away.
  std::unique_ptr<IdentityCheck> identity_check_;
  bool identity_changed_ = false;  // seen by identity_check_

  // Connected clients. Owned here until they close, whatever else holds them.
  std::set<std::shared_ptr<Session>> sessions_;
  uint64_t calls_ = 0;
  // -W: the longest any call asked for (0 = never).
  double idle_timeout_ = 60;
  // Clients streaming records; only they keep the daemon from being idle, so
  // that `viasock list` neither resets nor hides the idle time.
  size_t run_clients_ = 0;
  DaemonClock::time_point started_, idle_since_;
  // Out of descriptors lately (logged when it starts and ends), and when
  // the table was full last. Not a state: a shortage comes and goes while
  // serving, and accepting pauses without the daemon draining.
  bool short_of_descriptors_ = false;
  DaemonClock::time_point last_full_;
  // Held while accepting, given back while the table is full.
  DescriptorReserve reserve_;
  // Where the daemon is in its life (daemon_state.h); state_ is its state directory.
  DaemonState life_ = DaemonState::kStarting;
  std::optional<ToolFailure> fatal_;
};

}  // namespace viasock
