// The scheduling policy of the pool: how much work an instance takes at a
// time, when the pool grows, when an instance retires. Pure logic on
// measured numbers (times are seconds on a steady clock), so that it can be
// tested without processes; Pool and Instance feed it and follow it.
//
// The policy, in short:
//
// - Every instance measures its service time: from the moment the tool could
//   start on a batch (the batch was written, and the batch before it was
//   answered) to the batch's last answer. Time per record and time per byte
//   are decayed averages over recent batches, weighted by their size.
// - A batch holds about kSliceSeconds of the tool's time (records from the
//   time per record, bytes from the time per byte, whichever is fewer), at
//   least one record, at most kMaxBatchBytes / kMaxBatchRecords. An
//   instance has at most two batches in flight: the tool works on one while
//   the other waits in its pipe, which hides the round trip through the
//   daemon, and what is not in flight stays in the pool for whichever
//   instance is free first. So 40 records of 25 ms each spread over four
//   instances one by one. A tool the daemon cannot keep busy (see
//   Spreading) gets batches of kUnspreadSliceSeconds: short slices would
//   only cut the stream into more writes and wake-ups, its measured time
//   being mostly the daemon's; a bounded one keeps a wrong guess (a slow
//   tool measured as fast once) from handing one instance a whole stream.
// - Reading answers: a tool that flushes every answer wakes the daemon for
//   each, which for a 0.3 ms gawk record cost the daemon 30-40 us of CPU
//   per answer, beside tools that needed both cores. While the batch in
//   front has more answers due than the tool makes in kMinAnswerPause, its
//   instance reads them only after about the time they take, at most
//   kMaxAnswerPause, in one go (Instance::read_stdout); the last answer of
//   a batch is read as it comes. The slice is twice the longest pause, so
//   the tool never runs dry meanwhile: the batch behind is in its pipe.
//   Only a pipe is read this way: a terminal buffers a few KiB, and the
//   tool would stop writing long before the pause ended.
// - Before anything was measured a batch is one record: a new tool's first
//   answer tells its start-up, the next its cost.
// - Spreading: a stream goes to more than one instance only when that helps,
//   i.e. when the tool, not the daemon, is what holds the stream up. The
//   daemon measures its own CPU time per record and per byte it moves
//   (client to tool and back; counted from when the pool went from idle to
//   busy, so a call's greeting weighs on no batch), and the tool's CPU time
//   and service time for the same work. The tool holds the stream up when
//   its CPU time is more than kSpreadCpuFactor times the daemon's (gawk at
//   0.3 ms a record against the daemon's 0.05) or its service time more than
//   kSpreadWaitFactor times (a tool that waits: a sleep, a model server). A
//   tool's service time alone is not enough: it includes the time its
//   answers wait while the daemon is busy, so `cat` measures about 4 times
//   the daemon's cost and would be spread half of the time. Otherwise a
//   second instance would only add copies, wake-ups and reordering, so only
//   the first ready instance (the primary) takes work; the others wait idle
//   (one that sees work first wakes an idle primary). `cat` stays on one
//   instance under -j 4, a 0.3 ms gawk record spreads over all. Until the
//   costs are measured, and for a talkative tool (one caller per instance at
//   a time), every instance takes work. These averages follow the last ~200
//   batches: single batches vary by several times (a burst of reading a
//   client's input lands on one). A tool that does its work in a child
//   process (a shell wrapper without `exec`) shows little CPU time of its
//   own and spreads by its service time alone.
// - Growth (-j MIN:MAX): another instance starts when the work waiting in
//   the pool, at the measured cost, would take the instances we have longer
//   than one start-up of the tool (measured from spawn to first answer), and
//   spreading helps. A 10 s tool is not started for 100 ms of backlog; a
//   0.3 s tool is, for 4 s; `cat` never gets a second instance.
// - Retirement: an instance beyond MIN that has had nothing to do for
//   max(kRetireFloorSeconds, kRetireStartups x start-up) is retired. Keeping
//   an idle instance costs only memory, restarting it costs a start-up that
//   some caller waits for, so the bar grows with the start-up; the floor
//   keeps instances across the gaps of a `make -j` build.
// - Recycling (--max-records N): an instance takes at most N records. A spare
//   starts when the records it has left would take less than a start-up, so
//   that it is ready when the old one stops taking work.
// - Retiring (idle or recycled) is one path: the instance takes no new work,
//   finishes its batches in flight, then its stdin is closed; it exiting then
//   is not a failure.
#pragma once

#include <time.h>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>

namespace viasock::sched {

inline constexpr double kSliceSeconds = 0.008;
inline constexpr double kUnspreadSliceSeconds = 0.02;
inline constexpr double kMaxAnswerPause = 0.004;
inline constexpr double kMinAnswerPause = 0.0003;
inline constexpr size_t kMaxBatchBytes = 256 * 1024;
inline constexpr size_t kMaxBatchRecords = 1 << 16;
inline constexpr size_t kMaxBatchesInFlight = 2;
// Memory bound, and enough to keep a pipe full at any batch size.
inline constexpr size_t kMaxBytesInFlight = 1 << 20;
inline constexpr double kRetireFloorSeconds = 5;
inline constexpr double kRetireStartups = 10;
// A first batch sent this soon after the spawn measures the start-up.
inline constexpr double kStartupExactWithin = 0.05;
// Spreading (see above): the tool's CPU time, or its service time, must be
// this many times the daemon's own CPU time per record or per byte.
inline constexpr double kSpreadCpuFactor = 2;
inline constexpr double kSpreadWaitFactor = 20;
// Weight of the past at each batch in the averages that size batches (the
// last few batches decide, so a tool whose cost changes is followed within
// a few ms) and in those that decide spreading (the last ~200).
inline constexpr double kCostDecay = 0.75;
inline constexpr double kSpreadDecay = 0.995;

// A clock's reading in seconds (a CPU-time clock: the daemon's, a tool's);
// < 0 when it cannot be read (the process is gone).
inline double clock_seconds(clockid_t clock) {
  timespec now{};
  if (clock_gettime(clock, &now) != 0) return -1;
  return static_cast<double>(now.tv_sec) + static_cast<double>(now.tv_nsec) * 1e-9;
}

// How often a check that costs what it costs may start: at most every
// `interval` seconds, and no more than `share` of the time. The identity
// check walks every --watch tree; one over /usr (178,000 files, 0.4 s)
// then runs every 8 s at 5 % instead of 44 % of a core. Only the daemon's
// early exit waits for it: each client hashes the watched trees itself.
class CheckPace {
 public:
  CheckPace(double interval, double share) : interval_(interval), share_(share) {}
  bool due(double now) const { return now >= next_; }
  // A check ran from `started` to `finished`.
  void ran(double started, double finished) { next_ = started + std::max(interval_, (finished - started) / share_); }

 private:
  double interval_, share_;
  double next_ = 0;
};

// Decayed, size-weighted averages of the time a tool spends per record and
// per byte.
class CostMeter {
 public:
  explicit CostMeter(double decay = kCostDecay) : decay_(decay) {}
  void observe(size_t records, size_t bytes, double seconds);
  bool known() const { return records_ > 0; }
  double per_record() const { return records_ > 0 ? seconds_ / records_ : 0; }
  double per_byte() const { return bytes_ > 0 ? seconds_ / bytes_ : 0; }
  // Predicted time for work of this size: the larger of the two estimates,
  // so a few large records are not taken for a few cheap ones.
  double predict(size_t records, size_t bytes) const;

 private:
  double decay_;
  double seconds_ = 0, records_ = 0, bytes_ = 0;
};

struct BatchLimit {
  size_t records;
  size_t bytes;
};

// The size of the next batch for an instance whose costs are `meter`:
// about `slice` seconds of the tool's time.
BatchLimit batch_limit(const CostMeter& meter, double slice = kSliceSeconds);

// How long an instance may leave its tool's stdout unread while `due`
// answers of the batch in front are still to come, for a tool whose costs
// are `meter`; 0: read each answer as it comes.
double answer_pause(size_t due, const CostMeter& meter);

// One instance's part in the pool.
enum class Role {
  kSpare,     // started ahead of a recycled instance; takes no work yet
  kActive,    // takes work
  kRetiring,  // takes no new work; stdin closed once its batches are answered
};

class InstanceSchedule {
 public:
  explicit InstanceSchedule(double started_at, Role role = Role::kActive)
      : started_at_(started_at), role_(role), idle_since_(started_at) {}

  Role role() const { return role_; }
  void set_role(Role role) { role_ = role; }

  // Whether to take another batch, with this much in flight. Until its
  // first answer an instance holds one batch: work given to a tool that is
  // still starting waits for its start-up.
  bool wants_work(size_t batches_in_flight, size_t bytes_in_flight, uint64_t max_records) const;
  // The next batch's size: from this instance's costs, or the pool's while
  // it has measured nothing itself; capped by what --max-records leaves.
  // When spreading does not help (`spread` false) there is little to
  // balance: long slices, for fewer writes and wake-ups.
  BatchLimit next_batch(const CostMeter& pool_costs, uint64_t max_records, bool spread = true) const;
  void on_taken(size_t records);
  // A batch got its last answer. Returns the seconds the tool spent on it,
  // or a negative number for the first batch, which measured the start-up.
  double on_batch_done(size_t records, size_t bytes, double sent_at, double now);
  // Nothing is in flight any more.
  void on_idle(double now) { idle_since_ = now; }
  void on_busy() { idle_since_ = -1; }

  const CostMeter& costs() const { return costs_; }
  bool answered() const { return startup_ >= 0; }
  // Spawn to first answer. It measures the start-up when the first batch
  // came right at the start; a batch that came later (a spare, a daemon
  // started ahead of its calls) only bounds it from above.
  double startup() const { return startup_; }
  bool startup_exact() const { return startup_exact_; }
  double started_at() const { return started_at_; }
  uint64_t records_taken() const { return records_taken_; }
  // Seconds idle at `now`, 0 when busy.
  double idle_for(double now) const { return idle_since_ < 0 ? 0 : now - idle_since_; }

  // --max-records: the quota is used up.
  bool quota_used(uint64_t max_records) const { return max_records > 0 && records_taken_ >= max_records; }
  // --max-records: time to start a spare (what is left takes less than a
  // start-up, or either is not known yet).
  bool needs_spare(uint64_t max_records, const CostMeter& pool_costs, double startup) const;
  bool spare_asked() const { return spare_asked_; }
  void set_spare_asked() { spare_asked_ = true; }

 private:
  double started_at_;
  Role role_;
  CostMeter costs_;
  double startup_ = -1;
  bool startup_exact_ = false;
  double last_done_ = 0;
  double idle_since_;  // < 0 while busy
  uint64_t records_taken_ = 0;
  bool spare_asked_ = false;
};

// What the pool knows when it decides to grow.
struct PoolLoad {
  int active = 0;              // instances taking work (starting ones too)
  int max = 1;                 // -j MAX
  size_t waiting_records = 0;  // complete records not yet given to an instance
  size_t waiting_bytes = 0;
  double startup = -1;          // measured start-up, < 0 when not yet known
  bool spreading_helps = true;  // spreading_helps(): else more instances only idle
};

// Whether more than one instance can speed a stream up: the tool (`tool`:
// service time of one instance) is slow against the daemon (`daemon`: its
// CPU time for moving the same work). True while either is unknown.
// What spreading is decided from: the tool's service time and CPU time, and
// the daemon's own CPU time, each per record and per byte.
struct SpreadCosts {
  CostMeter tool_wall{kSpreadDecay}, tool_cpu{kSpreadDecay}, daemon{kSpreadDecay};
};
bool spreading_helps(const SpreadCosts& costs);

// Whether an instance other than the primary takes work. The primary always
// does; the others when spreading helps or the tool is talkative (its
// instances serve one caller at a time, so other callers need others).
bool secondary_takes_work(bool spreading_helps, bool talkative);

bool should_grow(const PoolLoad& load, const CostMeter& costs);

// Idle time after which an instance beyond MIN retires.
double retire_after(double startup);

}  // namespace viasock::sched
