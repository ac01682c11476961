// The tool instances (-j N) and the work they share: sessions with complete
// records wait in a round-robin queue, and every instance with room in its
// window pulls batches from it. One instance means every client's records
// reach the tool in order; several mean that any batch may go to any of them.
//
// Without framing options the pool first learns the tool (stdout_learner.h
// chooses a pipe or a terminal; answer_shape.h finds how answers end) and
// serves in lock-step until it knows; then it pipelines.
#pragma once

#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "common/record_framer.h"
#include "server/asio.h"
#include "server/clock.h"
#include "server/batch.h"
#include "server/child_process.h"
#include "server/scheduler.h"
#include "server/tool_messages.h"
#include "server/start_up_broadcast.h"
#include "server/tool_profile.h"
#include "server/work_queue.h"

namespace viasock {

class Instance;
class Session;
class StdoutLearner;

struct PoolConfig {
  ToolCommand command;
  RecordFormat output_format;
  int prelude_records = 0;
  int prelude_lines = 0;
  int instances = 1;                           // -j N, or MAX of -j MIN:MAX
  int min_instances = 0;                       // MIN of -j MIN:MAX; 0: a fixed pool of `instances`
  uint64_t max_records = 0;                    // --max-records; 0: never recycle
  bool learn = false;                          // no framing options: learn the tool
  StdoutKind stdout_kind = StdoutKind::kPipe;  // when not learning
  std::string flush_hint;                      // the tool's own flush option, for messages
  bool line_buffered = false;                  // -L: the tool runs under stdbuf
  // What an earlier daemon of this ID learned: the tool is not learned again.
  std::optional<ToolProfile> profile;
  // Called once learning is complete (and when what was learned changes),
  // and when a remembered profile proved wrong.
  std::function<void(const ToolProfile&)> remember;
  std::function<void()> forget;
  // Whether the tool and the files its ID covers are still those the
  // daemon started with: an instance started once they changed would load
  // other files into calls begun with the old ones.
  std::function<bool()> identity_current;
  // Makes each instance's process: a ChildProcess when empty (tests put a
  // scripted fake here).
  ToolLauncher launcher;
};

class Pool {
 public:
  // Called once when the tool cannot be served: it cannot start, or it is
  // no record filter. The daemon then fails every call and stops.
  using FatalHandler = std::function<void(ToolFailure failure)>;

  Pool(asio::io_context& io, PoolConfig config, FatalHandler on_fatal);
  ~Pool();

  // Starts the instances (or the learner); false with a status and reason
  // when the tool cannot be executed at all.
  bool start(int* status, std::string* error);

  // Sessions' side.
  void offer(std::shared_ptr<Session> session);
  void kick();
  // A call that held back its answers reads again (or is gone), or another
  // call brought work: instances that stopped reading their tool's stdout
  // read on where nothing holds them any more (Instance::hold_for_caller).
  void read_held_output();
  // `new_segment`: for an instance opening a segment (may_join).
  std::shared_ptr<Batch> take_work(size_t max_bytes, size_t max_records, std::string* bytes, bool new_segment = false);
  // The next batch for `instance`: any session's, or only its own session's
  // while every call gets an instance of its own.
  std::shared_ptr<Batch> take_work_for(Instance& instance, size_t max_bytes, size_t max_records, std::string* bytes);
  // A session closed: in exclusive mode its instance retires and a fresh
  // one starts for the next call.
  void session_ended(Session* session);
  // -P or --prelude-lines: else the prelude is what the tool prints before
  // it first waits for input.
  bool prelude_given() const { return config_.prelude_records > 0 || config_.prelude_lines > 0; }
  void wait_for_prelude(const std::shared_ptr<Session>& session) { start_up_.wait_for_prelude(session); }
  void session_joined(const std::shared_ptr<Session>& session);
  // A call that ended without any record while it waits for the prelude
  // (the learner serves it as a direct run).
  std::shared_ptr<Session> take_empty_call() { return start_up_.take_empty_call(); }
  // --retry: a batch that was in flight on a tool that died waits to be sent
  // again, alone, to a fresh instance. False when it may not be: its call
  // has no retries left or has ended, the tool keeps state (a fresh instance
  // would answer differently), or the pool is stopping.
  bool retry(const std::shared_ptr<Batch>& batch);
  bool has_retries() const { return queue_.has_retries(); }
  std::shared_ptr<Batch> take_retry() { return queue_.take_retry(); }
  // False while a terminal's output is being checked against a pipe's.
  bool may_succeed() const { return !holding_; }
  void hold(std::shared_ptr<Session> session);

  // Instances' and the learner's side.
  const PoolConfig& config() const { return config_; }
  const ToolCommand& command() const { return config_.command; }
  std::unique_ptr<ToolProcess> launch() const;
  bool learns() const { return config_.learn; }
  // -t, -T, -0, -P, -L, --pty or --pipe: the framing and how the tool's
  // stdout is connected were given; only whether it keeps state is learned.
  bool framing_given() const { return !config_.learn; }
  bool lock_step() const { return lock_step_; }
  const RecordFramer& output_framer() const { return *output_framer_; }
  void set_prelude(const std::string& prelude) { start_up_.set_prelude(prelude); }
  void count_answers(size_t records) { records_answered_ += records; }
  void instance_ready(Instance& instance, const std::string& prelude);
  void instance_exited(Instance* instance, bool expected, bool killed_by_us, int status, const std::string& message);
  void adopt(std::shared_ptr<Instance> instance, const std::shared_ptr<Session>& session);
  void learn_answer(const std::string& answer);
  // A shared instance printed `bytes` once its input closed: the tool
  // prints at the end of its input, which only a direct run gives its call.
  // Every call gets an instance of its own from now on, and later daemons
  // of this ID from the start (the profile says "stateful").
  void prints_at_end(size_t bytes);
  // Output answered no record: the learned shape is wrong, and the tool is
  // served one record at a time for good.
  void shape_broken();
  void start_up_stderr(Instance& instance, std::string_view line);
  void broadcast_start_up_stderr(std::string_view line);
  void hold_successes() { holding_ = true; }
  void release_successes();
  // Starts instances up to -j MIN (or N), never more live ones than -j MAX.
  void start_missing_instances();
  // The learner is still at work.
  bool learning() const;
  // Whether the tool answers a record it has seen before the same way; a
  // tool that keeps state (awk's NR) gets a fresh instance per call.
  void set_stateful(bool stateful);
  // The daemon gives up on the tool: every call fails with `status` and
  // `message`, after `tool_output` (ToolFailure).
  void cannot_serve(int status, const std::string& message, std::string tool_output = {});
  void cannot_learn(const std::string& reason);
  void learning_failed(int status, const std::string& message, bool on_a_record);
  // Learning starts over with a new learner: what the old one saw is void.
  void learn_again();
  // An instance took records and went quiet without answering: a daemon
  // that started from a remembered profile forgets it and stops, so that
  // the next call learns the tool afresh.
  void answers_missing();
  // Started from what an earlier daemon learned.
  bool remembered() const { return remembered_; }
  // What messages about the tool's behaviour say of it (tool_messages.h).
  ToolFacts tool_facts() const;

  // Scheduling (pool_scaling.cpp; the policy is in scheduler.h).
  // Instances taking work now, and the bounds of -j.
  int current_instances() const;
  int min_instances() const { return config_.min_instances > 0 ? config_.min_instances : config_.instances; }
  int max_instances() const { return max_instances_; }
  // A later call asked for more instances: MAX only ever rises.
  void raise_max(int max);
  // Costs measured over every instance, for instances that have not
  // measured their own yet.
  const sched::CostMeter& costs() const { return costs_; }
  // An instance took work: it may need a spare, or be done (--max-records).
  void after_taking(Instance& instance);
  // An idle instance took work.
  void instance_busy(const Instance& instance);
  // A batch got its last answer; `seconds` < 0 when it measured the start-up;
  // `tool_cpu` is the tool's CPU time for it, < 0 when not known.
  void on_batch_done(const Instance& instance, size_t records, size_t bytes, double seconds, double tool_cpu);
  // Whether a stream gains from more than one instance (scheduler.h).
  bool spreading_helps() const { return sched::spreading_helps(spread_); }

  // The daemon's side.
  void reap();
  // Some instance waits for work: the tool is loaded.
  bool ready() const;
  // Replaces every instance: new ones start and take new work, the old ones
  // finish what they were given and exit. No call fails.
  void restart();
  // What was learned, as options of `viasock run` ("--pty -T '^$'"), and
  // whether learning is over.
  std::vector<std::string> learned_args(bool* known) const;
  uint64_t records_answered() const { return records_answered_; }
  bool stateful() const { return stateful_; }
  // Every call has an instance of its own (the call being learned on, or a
  // tool that keeps state).
  bool exclusive() const { return exclusive_; }
  // Another call than `session` has records waiting.
  bool others_waiting(const Session* session) const;
  // A segment's answers did not keep to the learned shape (logged once).
  void answers_vary();
  // Closes every tool's stdin, waits for them to exit (killing stragglers),
  // then calls `done`.
  void stop(std::function<void()> done);

 private:
  // take_work_for() but for the learner's look at the batch.
  std::shared_ptr<Batch> choose_work_for(Instance& instance, size_t max_bytes, size_t max_records, std::string* bytes);
  void log_spreading_change();
  void apply_profile(const ToolProfile& profile);
  // The ID went stale (checked only when an instance is to start).
  bool stale();
  // No instance can start for the calls waiting: they fail, the others go on.
  void fail_waiting(const std::string& message);
  std::string stale_message() const;
  void remember_what_was_learned();
  std::shared_ptr<Instance> add_instance(sched::Role role, int* status, std::string* error);
  void remove_instance(Instance* instance);
  void retire(Instance& instance);
  bool promote_spare();
  void arm_tick();
  void tick();
  void grow_if_needed();
  void retire_idle();
  // Spreading (scheduler.h): the first serving instance always takes work,
  // the others only when that helps.
  Instance* primary();
  bool may_take_work(const Instance& instance);
  bool may_join(Session& session);
  // --max-records: replaces an instance that served its quota.
  void recycle(Instance& instance);
  void recycle_used();
  void replace_used(Instance& instance);
  void replace_later(std::chrono::milliseconds delay);
  void check_stopped();
  template <class Visit>
  void for_each_instance(Visit visit);

  asio::io_context& io_;
  PoolConfig config_;
  FatalHandler on_fatal_;
  std::unique_ptr<RecordFramer> output_framer_;
  // Live instances, active, spare or retiring (scheduler.h), oldest first.
  std::vector<std::shared_ptr<Instance>> instances_;
  std::shared_ptr<StdoutLearner> learner_;
  std::vector<std::shared_ptr<StdoutLearner>> old_learners_;
  StdoutKind learned_kind_ = StdoutKind::kPipe;
  WorkQueue queue_;
  StartUpBroadcast start_up_;
  // Calls whose success waits for the terminal check (hold_successes).
  std::vector<std::weak_ptr<Session>> held_;
  bool lock_step_ = false, shape_known_ = false, holding_ = false, fatal_ = false;
  // One session per instance: until the learner knows the tool keeps no
  // state, and for good when it does.
  bool exclusive_ = false, stateful_ = false;
  std::vector<std::string> samples_;
  // The answers keep to no shape: lock-step for good.
  bool shapeless_ = false;
  // Whether the tool keeps state is known (learned or remembered).
  bool state_known_ = false;
  bool remembered_ = false;
  bool stale_ = false;
  bool answers_vary_logged_ = false;
  bool restart_deferred_ = false;  // restart asked while the call a tool is learned on held its instance
  std::optional<ToolProfile> last_remembered_;
  std::string shape_description_;
  int start_failures_ = 0, learning_restarts_ = 0;
  bool ever_ready_ = false;
  bool stopping_ = false;
  std::function<void()> on_stopped_;
  Timer stop_timer_;
  uint64_t records_answered_ = 0;

  int next_index_ = 0;
  int max_instances_ = 1;
  sched::CostMeter costs_;
  // What spreading is decided from (scheduler.h), and the daemon's process
  // CPU clock when the last batch was done.
  sched::SpreadCosts spread_;
  bool spreading_logged_ = true;  // what log_spreading_change() said last (unknown costs: helps)
  double daemon_cpu_ = -1;
  double startup_ = -1;  // the last measured start-up, seconds
  bool startup_exact_ = false;
  Timer tick_timer_;
  bool tick_armed_ = false;
};

}  // namespace viasock
