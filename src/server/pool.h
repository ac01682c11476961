// The tool instances (-j N) and the work they share: sessions with complete
// records wait in a round-robin queue, and every instance with room in its
// window pulls batches from it. One instance means every client's records
// reach the tool in order; several mean that any batch may go to any of them.
#pragma once

#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "common/record_framer.h"
#include "server/asio.h"
#include "server/batch.h"
#include "server/scheduler.h"
#include "server/tool_process.h"

namespace viasock {

class Instance;
class Session;

struct PoolConfig {
  ToolCommand command;
  RecordFormat output_format;
  int prelude_records = 0;
  int prelude_lines = 0;
  double record_timeout = 0;
  int instances = 1;        // -j N, or MAX of -j MIN:MAX
  int min_instances = 0;    // MIN of -j MIN:MAX; 0: a fixed pool of `instances`
  uint64_t max_records = 0; // --max-records; 0: never recycle
};

class Pool {
 public:
  // Called once when the tool cannot be served: it failed to start, or an
  // instance died before it answered anything. The daemon then stops.
  using FatalHandler = std::function<void(int status, const std::string& message)>;

  Pool(asio::io_context& io, PoolConfig config, FatalHandler on_fatal);
  ~Pool();

  // Starts every instance; false with a status and reason when the tool
  // cannot be executed at all.
  bool start(int* status, std::string* error);

  // A session has complete records to send.
  void offer(std::shared_ptr<Session> session);
  // Lets every instance with room in its window pull work.
  void kick();
  // Cuts the next batch for an instance, round-robin over sessions.
  std::shared_ptr<Batch> take_work(size_t max_bytes, size_t max_records, std::string* bytes);

  bool has_prelude() const { return config_.prelude_records > 0 || config_.prelude_lines > 0; }
  void wait_for_prelude(std::shared_ptr<Session> session);
  void set_prelude(const std::string& prelude);

  // An instance exited; `answered` tells whether it ever answered a record.
  void instance_exited(Instance* instance, bool answered, bool killed_by_us, int status,
                       const std::string& message);
  // SIGCHLD arrived: let instances reap.
  void reap();
  // Closes every tool's stdin, waits for them to exit (killing stragglers),
  // then calls `done`.
  void stop(std::function<void()> done);

  const PoolConfig& config() const { return config_; }
  const RecordFramer& output_framer() const { return *output_framer_; }
  uint64_t records_answered() const { return records_answered_; }
  void count_answers(size_t records) { records_answered_ += records; }

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
  // A batch got its last answer; `seconds` < 0 when it measured the start-up.
  void on_batch_done(const Instance& instance, size_t records, size_t bytes, double seconds);

 private:
  void check_stopped();
  std::shared_ptr<Instance> add_instance(sched::Role role, int* status, std::string* error);
  void remove_instance(Instance* instance);
  void retire(Instance& instance);
  bool promote_spare();
  void arm_tick();
  void tick();
  void grow_if_needed();
  void retire_idle();

  asio::io_context& io_;
  PoolConfig config_;
  FatalHandler on_fatal_;
  std::unique_ptr<RecordFramer> output_framer_;
  std::vector<std::shared_ptr<Instance>> instances_;
  std::deque<std::shared_ptr<Session>> ready_;
  std::vector<std::shared_ptr<Session>> prelude_waiters_;
  std::string prelude_;
  bool prelude_known_ = false;
  bool stopping_ = false;
  std::function<void()> on_stopped_;
  asio::steady_timer stop_timer_;
  uint64_t records_answered_ = 0;

  int next_index_ = 0;
  int max_instances_ = 1;
  sched::CostMeter costs_;
  double startup_ = -1;  // the last measured start-up, seconds
  bool startup_exact_ = false;
  asio::steady_timer tick_timer_;
  bool tick_armed_ = false;
};

}  // namespace viasock
