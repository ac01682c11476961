// The daemon's core (Pool, Instance, the learner, Session) behind fakes, in
// the way ninja's build_test.cc tests its builder behind a fake command
// runner: no process is started and nothing sleeps.
//
// - FakeTool is a ToolProcess whose "tool" is a script run by the test: its
//   standard streams are pipes in this process, it reads the records the
//   instance writes and prints what its Script says. It waits for input
//   (ToolProcess::activity) when it has read everything and is not busy.
// - FakeClient is a client of a Session over a socket pair, speaking the
//   wire protocol as `viasock run` does.
// - Core owns the event loop, a ManualClock and the Pool; run_for() moves
//   time a millisecond at a time, letting the loop, the tools and the clients
//   do all they can at each step.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "common/call_options.h"
#include "common/record_framer.h"
#include "common/unique_fd.h"
#include "common/wire.h"
#include "server/asio.h"
#include "server/clock.h"
#include "server/pool.h"
#include "server/session.h"
#include "server/tool_process.h"

namespace viasock::testing {

using std::chrono::milliseconds;

class FakeTool;

// What a fake tool does. Every hook may print (FakeTool::print), write to
// stderr, exit, or stay busy for a while.
struct Script {
  // Time it takes to load before it first waits for input.
  milliseconds load{5};
  // Printed once loaded, before it reads anything.
  std::string prelude;
  // Once loaded (after the prelude): it may exit, as a tool that cannot
  // find its model does.
  std::function<void(FakeTool&)> on_start;
  // Each complete line it reads (without its newline). Default: echoes it.
  std::function<void(FakeTool&, std::string_view line)> on_line;
  // Its stdin closed. Default: flushes and exits with status 0.
  std::function<void(FakeTool&)> on_eof;
  // Holds its output until 4 KiB collect or it exits, as C stdio does on a
  // pipe (on a terminal it flushes every line); print_now() bypasses it.
  bool buffered = false;
  // Seconds of CPU each line costs it (what ToolProcess::cpu_seconds says).
  double cpu_per_line = 0;
};

// One process of the fake tool. The instance holds a FakeProcess for it;
// the Core keeps every FakeTool, so a test can look at a tool after its
// instance is gone.
class FakeTool {
 public:
  FakeTool(Script script, int number) : script_(std::move(script)), number_(number) {}

  // What FakeProcess passes on (ToolProcess).
  bool spawn(StdoutKind stdout_kind, ToolProcess::Streams* streams, std::string* error);
  ToolActivity activity() const;
  double cpu_seconds() const { return exited_ ? -1 : cpu_; }
  void kill();

  // The script's side.
  void print(std::string_view bytes);      // through its stdio buffer
  void print_now(std::string_view bytes);  // flushed at once
  void flush();
  void eprint(std::string_view bytes);
  void exit(int status);
  // Busy (not waiting for input) for this long from now.
  void busy_for(milliseconds time);
  // Busy for good: it never waits for input again.
  void hang() { hung_ = true; }
  // Lines it read so far.
  int lines() const { return lines_; }
  uint64_t state = 0;  // for scripts that keep state between records

  // The test's side: reads and runs the script; true if anything happened.
  bool step();
  bool exited() const { return exited_; }
  bool killed() const { return killed_; }
  int wait_status() const { return wait_status_; }
  int number() const { return number_; }
  DaemonClock::time_point started_at() const { return started_at_; }
  StdoutKind stdout_kind() const { return stdout_kind_; }

 private:
  void finish(int wait_status);

  Script script_;
  int number_;
  UniqueFd stdin_, stdout_, stderr_;  // the tool's ends
  std::string partial_, buffer_;
  std::string pending_;   // flushed but not yet taken by the pipe
  int exit_status_ = -1;  // exit() waits for pending_ to be written
  DaemonClock::time_point busy_until_{}, started_at_{};
  StdoutKind stdout_kind_ = StdoutKind::kPipe;
  bool loaded_ = false, hung_ = false;
  bool exited_ = false, killed_ = false;
  int wait_status_ = 0, lines_ = 0;
  double cpu_ = 0;
};

class FakeClient {
 public:
  // The daemon's end of the connection, for the Session.
  FakeClient(asio::io_context& io, CallOptions options = {});
  LocalSocket take_daemon_end() { return std::move(daemon_end_); }

  void send(std::string_view bytes);
  void end_input();
  // Closes the connection (a client killed mid-call).
  void vanish();
  // Reads what the daemon sent; true if anything came.
  bool step();
  // A caller that reads nothing for a while (its reader is slow).
  void stop_reading(bool stopped) { reading_stopped_ = stopped; }

  bool done() const { return status_.has_value(); }
  int status() const { return status_.value_or(-1); }
  const std::string& out() const { return out_; }
  const std::string& err() const { return err_; }
  const std::string& message() const { return message_; }

 private:
  void write_pending();

  LocalSocket daemon_end_;
  UniqueFd fd_;
  std::string pending_, out_, err_, message_;
  wire::FrameDecoder decoder_;
  std::optional<int> status_;
  bool closed_ = false, reading_stopped_ = false;
};

class Core final : public SessionHost {
 public:
  // `configure` adjusts the pool's configuration (learning by default, as
  // without framing options).
  explicit Core(Script script, std::function<void(PoolConfig&)> configure = {});
  ~Core() override;

  // A new call; its records follow with send().
  FakeClient& call(CallOptions options = {});
  // Whether the daemon's side of call `index` (from 0) still exists.
  bool session_exists(size_t index) const { return !calls_made_.at(index).expired(); }
  // One call with `input`, run until it ends (at most `limit`).
  FakeClient& call_with(std::string_view input, CallOptions options = {}, milliseconds limit = milliseconds(5000));

  // Lets everything happen that can without time passing.
  void settle();
  // Moves time on by `time`, a millisecond at a time.
  void run_for(milliseconds time);
  // Until `done` holds or `limit` passed; whether it holds.
  bool run_until(const std::function<bool()>& done, milliseconds limit = milliseconds(5000));

  Pool& pool() { return *pool_; }
  // Every tool started so far, oldest first.
  const std::vector<std::shared_ptr<FakeTool>>& tools() const { return tools_; }
  FakeTool& tool(size_t index) { return *tools_.at(index); }
  int starts() const { return static_cast<int>(tools_.size()); }
  int alive() const;
  // The most tools alive at once so far.
  int peak_alive() const { return peak_alive_; }
  ManualClock& clock() { return clock_; }
  // The reason a tool could not be served (Pool's FatalHandler), if any.
  const std::optional<ToolFailure>& fatal() const { return fatal_; }
  bool stopped() const { return stopped_; }
  void stop();

  // SessionHost.
  uint64_t run_started(const CallOptions& call) override;
  void session_closed(Session* session) override;
  std::string status_json() const override { return "{}"; }
  void stop_requested() override {}

 private:
  Script script_;
  asio::io_context io_;
  ManualClock clock_;
  std::unique_ptr<RecordFramer> framer_;
  std::unique_ptr<Pool> pool_;
  std::vector<std::unique_ptr<FakeClient>> clients_;
  std::set<std::shared_ptr<Session>> sessions_;
  std::vector<std::weak_ptr<Session>> calls_made_;
  std::vector<std::shared_ptr<FakeTool>> tools_;
  std::optional<ToolFailure> fatal_;
  uint64_t calls_ = 0;
  size_t exits_seen_ = 0;
  int peak_alive_ = 0;
  bool stopped_ = false;
};

}  // namespace viasock::testing
