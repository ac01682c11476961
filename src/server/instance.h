// One running process of the tool. It writes records to the tool's stdin and
// cuts its stdout into answers for the batches in flight (first in, first
// out), passes each stderr line to the caller whose record the tool is working
// on, and notices when the tool dies or stops answering (-w).
//
// Answers are cut in one of two ways:
// - framed: by the pool's output framer (lines, -T, -0, or a learned shape),
//   with many records in flight: the fast path;
// - lock-step: one record at a time, the answer being everything the tool
//   printed until it waits for input again (quiescence.h). Used while the
//   daemon learns a tool's answers, and for tools whose answers have no shape
//   a framer could find.
// A serving instance pulls its work from the pool; a candidate is fed by the
// learner (stdout_learner.h). A direct instance serves one call as a direct
// run would: every byte it prints until it exits is that call's, unframed,
// its stdin closes at the end of the call's input, and its exit status is
// the call's.
#pragma once

#include <chrono>
#include <deque>
#include <memory>
#include <string>
#include <utility>

#include "common/byte_buffer.h"
#include "common/unique_fd.h"
#include "server/asio.h"
#include "server/clock.h"
#include "server/batch.h"
#include "server/child_process.h"
#include "server/instance_life.h"
#include "server/late_answer_grace.h"
#include "server/quiescence_watch.h"
#include "server/scheduler.h"
#include "server/tool_stderr.h"

namespace viasock {

class Pool;

class Instance : public std::enable_shared_from_this<Instance> {
 public:
  enum class Role { kServing, kCandidate, kDirect };

  // An answer of at least this size leaves the output buffer without a
  // copy, and one expected to be larger gets its room up front.
  static constexpr size_t kKeepBuffer = 1 << 20;
  // The tool's stdout is read straight into the output buffer, this much at
  // a time and at most kReadBurst per wake-up.
  static constexpr size_t kReadChunk = 256 * 1024;
  static constexpr size_t kReadBurst = 1 << 20;
  // The output buffer of a stream stays (it is reused without a copy); one
  // larger than this is freed once empty.
  static constexpr size_t kKeepOutput = 4 << 20;

  Instance(asio::io_context& io, Pool& pool, int index, StdoutKind stdout_kind, Role role);
  ~Instance();
  Instance(const Instance&) = delete;
  Instance& operator=(const Instance&) = delete;

  bool start(int* status, std::string* error);
  // Serving: pulls batches from the pool while the window has room.
  void pump();
  // Candidate: writes one record the learner hands over. Both candidates
  // (and a repeat) write the same bytes: one copy, shared.
  void feed(std::shared_ptr<Batch> batch, std::shared_ptr<const std::string> bytes);
  // A candidate the learner chose becomes a serving instance.
  void promote(int index);
  // Serves `owner` alone as a direct run from now on; `first` (a batch of
  // its, already answered in part) takes what comes next, else a new one.
  void serve_directly(const std::shared_ptr<Session>& owner, std::shared_ptr<Batch> first);
  // Serving instance that served the learner's first call: taken back by the
  // learner, it keeps what it prints from now on (release_late_output).
  void demote();
  bool direct() const { return role_ == Role::kDirect; }
  // A direct run keeps up to this much of what it printed, for the learner
  // to compare with another instance's output (release_direct_prefix).
  void keep_direct_prefix(std::string so_far, size_t limit);
  std::string release_direct_prefix(bool* complete);
  // Segments: where the framing of answers was learned rather than given,
  // a learned shape may not hold for every record (grep answers 0 or 1
  // line, jq 0..n). So an instance takes one caller's records at a time,
  // and passes to the next caller only across a moment the tool waits for
  // input with everything it printed read: all it printed in between is
  // that caller's, whatever the shape. The framer only lets answers reach
  // the caller early.
  // Where framing was given (--pipe, -T, -0), segments work the same way,
  // and a tool whose output does not fit that framing fails the segment's
  // caller loudly instead.
  bool in_segments() const;
  std::shared_ptr<Session> segment_owner() const { return segment_.lock(); }
  void open_segment(const std::shared_ptr<Session>& owner);
  // Every batch taken in a segment passes through here: the segment's last
  // batch takes what the tool prints late (Batch::Segment).
  void took_in_segment(const std::shared_ptr<Batch>& batch);
  // Whether the owner's next batch follows the one this segment took last.
  bool continues_segment(const Session& owner) const;
  // Its segment's caller has batches on another instance too: each turn
  // ends in a settle, so turns are long (kUnspreadSliceSeconds batches).
  bool shares_caller() const;
  // Takes records only once it first waited for input (a successor).
  void take_work_once_loaded() { wait_for_load_ = true; }
  // Takes no more work; its stdin closes once its batches are answered, and
  // its exit is then expected, not a failure.
  void retire();
  // Reaps the process if it exited (after SIGCHLD).
  void reap();
  // Shutdown: no more input; the tool should exit on its own.
  void close_input();
  // Kills the tool's process group.
  void kill();

  InstanceLife life() const { return life_; }
  bool finished() const { return life_ == InstanceLife::kFinished; }
  // It waited for input once: the tool loaded (whatever its life is now).
  bool ready() const { return loaded_; }
  bool answered() const { return answered_; }
  // Killed for an answer over its call's --max-answer (answer_too_large):
  // a limit the call set, which says nothing of the tool.
  bool killed_over_max_answer() const { return killed_over_max_answer_; }
  // Reads the tool's stdout again if it was left unread for a caller that
  // no longer holds it back (hold_for_caller).
  void read_held_output();
  // The tool wrote to its stderr while serving: one caller at a time.
  bool talkative() const { return talkative_; }
  std::shared_ptr<Session> session_in_flight() const {
    return in_flight_.empty() ? nullptr : in_flight_.back()->session.lock();
  }
  // It takes no more work: retiring, closing or finished.
  bool retiring() const { return life_ >= InstanceLife::kRetiring; }
  // Active, started and able to take work: it may be the pool's primary.
  bool serving() const;
  bool idle() const { return in_flight_.empty(); }
  pid_t pid() const { return process_->pid(); }
  int index() const { return index_; }
  // Its part in the pool's scheduling (scheduler.h).
  sched::InstanceSchedule& schedule() { return schedule_; }
  const sched::InstanceSchedule& schedule() const { return schedule_; }
  StdoutKind stdout_kind() const { return stdout_kind_; }
  // The one session this instance serves while the pool gives every call
  // a fresh instance (a tool that keeps state between records).
  std::shared_ptr<Session> owner() const { return owner_.lock(); }
  void set_owner(const std::shared_ptr<Session>& session) { owner_ = session; }
  // What a retired candidate printed after its last answer (the rest of its
  // buffered output, once its stdin closed).
  std::string release_late_output() { return std::exchange(late_output_, {}); }
  // What it printed and nobody took yet (a candidate that exited on its
  // first record).
  std::string release_unrouted_output() { return release_late_output() + out_.take(out_.size(), kKeepBuffer); }
  // The tool's own exit status once reaped; -1 when killed by a signal or
  // not reaped.
  int exit_status() const;

 private:
  bool learns() const;
  bool lock_step() const;
  void write(std::string bytes);
  void write(std::shared_ptr<const std::string> bytes, bool step);
  void pump_direct();
  void route_direct();
  void finish_direct(int status, const std::string& message);
  bool segment_should_settle();
  void settle_segment();
  void on_segment_quiet(ToolActivity activity);
  bool give_to_segment(size_t bytes);
  std::shared_ptr<Batch> segment_tail(const std::shared_ptr<Session>& owner);
  void end_segment_hold();
  // `first_unanswered`: record_text of the first record left unanswered.
  void framing_broken(const std::shared_ptr<Session>& owner, size_t extra_bytes, size_t unanswered,
                      const std::string& first_unanswered = "");
  QuiescenceWatch::Pull puller();
  QuiescenceWatch::Observe observer();
  size_t read_available();
  size_t pull_stdout();
  void read_stdout();
  void wait_readable();
  double answer_pause() const;
  void park_stdout();
  void unpark_stdout();
  int stdout_fd() { return parked_stdout_ ? parked_stdout_.get() : stdout_.native_handle(); }
  void on_stdout(const boost::system::error_code& error, bool paused = false);
  void process_output();
  void route_framed();
  bool hold_for_caller();
  void route_output();
  uint64_t answer_limit() const;
  void answer_too_large();
  void take_late_output();
  void take_answers(Batch& batch, size_t begin, size_t* pos);
  void reserve_for_answer(size_t more);
  double tool_cpu_since_last_batch();
  size_t take_prelude(std::string_view data);
  void watch_start_up();
  void on_start_up_quiet(ToolActivity activity);
  void watch_answer(std::chrono::microseconds after = std::chrono::microseconds(0));
  void on_answer_quiet(ToolActivity activity);
  void watch_stuck(std::chrono::microseconds after = std::chrono::microseconds(-1));
  bool in_late_answer_grace(void (Instance::*look_again)(std::chrono::microseconds));
  void on_stuck_check(ToolActivity activity);
  // Fails the calls of the records in flight, or (may_retry, --retry) puts
  // them back into the pool; `detail` ends each message.
  void fail_in_flight(int status, const std::string& message, bool may_retry = false, const std::string& detail = "");
  void send_alone(std::shared_ptr<Batch> batch);
  void prelude_incomplete();
  void read_stderr();
  bool drain_stderr();
  void on_stderr(std::string_view bytes);
  void route_stderr_line(std::string_view line);
  void remember_answered(const std::shared_ptr<Batch>& batch);
  void on_unattributed_output(size_t bytes);
  void arm_timeout();
  void on_timeout();
  void check_exit();
  void finish();
  void close_input_when_idle();
  // The one place life_ changes (lifecycle.h).
  void enter(InstanceLife next);

  asio::io_context& io_;
  Pool& pool_;
  int index_;
  StdoutKind stdout_kind_;
  Role role_;
  std::unique_ptr<ToolProcess> process_;
  asio::posix::stream_descriptor stdin_, stdout_, stderr_;
  Timer timeout_timer_, exit_timer_, answer_timer_;
  UniqueFd parked_stdout_;  // stdout while out of the event loop (Instance::park_stdout)
  QuiescenceWatch quiet_;

  std::deque<std::shared_ptr<Batch>> in_flight_;
  size_t in_flight_bytes_ = 0;
  double tool_cpu_at_batch_ = -1;                    // the tool's CPU clock when its last batch was done
  std::shared_ptr<const std::string> write_buffer_;  // held until written
  std::deque<std::pair<std::shared_ptr<Batch>, std::shared_ptr<const std::string>>>
      fed_;  // candidate: records to write
  bool writing_ = false;
  bool stepping_ = false;  // the record in flight is answered in lock-step
  bool wait_for_load_ = false;

  ByteBuffer out_;  // tool output not yet routed
  size_t out_resume_ = 0;
  std::string prelude_, late_output_;
  std::string direct_prefix_;
  size_t direct_prefix_limit_ = 0;
  bool direct_prefix_complete_ = true;
  std::weak_ptr<Session> segment_;
  std::weak_ptr<Batch> segment_last_;  // the last batch taken in the segment
  int segment_batches_ = 0;
  bool settling_ = false;
  int prelude_left_ = 0;
  bool prelude_in_lines_ = false;
  DaemonClock::time_point last_progress_;
  // Sessions whose answers came last: output nobody asked for fails them.
  std::deque<std::weak_ptr<Session>> recently_answered_;
  std::weak_ptr<Session> owner_;

  ToolStderr stderr_lines_;
  InstanceLife life_ = InstanceLife::kStarting;
  // Reached kReady once: a fact kept when the life moves on (was the tool
  // loaded before it died? Pool::instance_exited).
  bool loaded_ = false;
  bool stdout_closed_ = false;
  bool killed_over_max_answer_ = false;
  bool answered_ = false, killed_by_us_ = false, timeout_armed_ = false, talkative_ = false;
  uint64_t printed_bytes_ = 0;         // all it printed on its stdout, answer or not
  bool stdout_held_ = false;           // left unread while its caller is backlogged
  LateAnswerGrace late_answer_grace_;  // framing given: silence with records unanswered
  const char* kill_reason_ = nullptr;  // why viasock killed it, for the call's message
  sched::InstanceSchedule schedule_;
};

}  // namespace viasock
