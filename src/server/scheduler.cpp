#include "server/scheduler.h"

#include <algorithm>

namespace viasock::sched {
namespace {

// A spare starts this much earlier than the start-up alone would need.
constexpr double kSpareMargin = 1.5;

size_t clamp_count(double value, size_t most) {
  if (!(value >= 1)) return 1;
  return value >= static_cast<double>(most) ? most : static_cast<size_t>(value);
}

}  // namespace

void CostMeter::observe(size_t records, size_t bytes, double seconds) {
  if (records == 0 || seconds < 0) return;
  seconds_ = seconds_ * decay_ + seconds;
  records_ = records_ * decay_ + static_cast<double>(records);
  bytes_ = bytes_ * decay_ + static_cast<double>(bytes);
}

double CostMeter::predict(size_t records, size_t bytes) const {
  return std::max(per_record() * static_cast<double>(records), per_byte() * static_cast<double>(bytes));
}

BatchLimit batch_limit(const CostMeter& meter, double slice) {
  if (!meter.known()) return {1, kMaxBatchBytes};
  double per_record = meter.per_record(), per_byte = meter.per_byte();
  size_t records = per_record > 0 ? clamp_count(slice / per_record, kMaxBatchRecords) : kMaxBatchRecords;
  size_t bytes = per_byte > 0 ? clamp_count(slice / per_byte, kMaxBatchBytes) : kMaxBatchBytes;
  return {records, bytes};
}

double answer_pause(size_t due, const CostMeter& meter) {
  if (due < 2 || !meter.known()) return 0;
  double pause = std::min(kMaxAnswerPause, static_cast<double>(due - 1) * meter.per_record());
  return pause >= kMinAnswerPause ? pause : 0;
}

bool InstanceSchedule::wants_work(size_t batches_in_flight, size_t bytes_in_flight, uint64_t max_records) const {
  if (role_ != Role::kActive || quota_used(max_records)) return false;
  size_t most = answered() ? kMaxBatchesInFlight : 1;
  return batches_in_flight < most && bytes_in_flight < kMaxBytesInFlight;
}

BatchLimit InstanceSchedule::next_batch(const CostMeter& pool_costs, uint64_t max_records, bool spread) const {
  BatchLimit limit = batch_limit(costs_.known() ? costs_ : pool_costs, spread ? kSliceSeconds : kUnspreadSliceSeconds);
  if (max_records > 0) {
    uint64_t left = max_records > records_taken_ ? max_records - records_taken_ : 1;
    limit.records = static_cast<size_t>(std::min<uint64_t>(limit.records, left));
  }
  return limit;
}

void InstanceSchedule::on_taken(size_t records) {
  records_taken_ += records;
  idle_since_ = -1;
}

double InstanceSchedule::on_batch_done(size_t records, size_t bytes, double sent_at, double now) {
  double busy_from = std::max(sent_at, last_done_);
  last_done_ = now;
  if (!answered()) {
    startup_ = now - started_at_;
    startup_exact_ = sent_at - started_at_ <= kStartupExactWithin;
    return -1;
  }
  double seconds = now - busy_from;
  costs_.observe(records, bytes, seconds);
  return seconds;
}

bool InstanceSchedule::needs_spare(uint64_t max_records, const CostMeter& pool_costs, double startup) const {
  if (max_records == 0) return false;
  const CostMeter& costs = costs_.known() ? costs_ : pool_costs;
  if (!costs.known() || startup < 0) return true;
  uint64_t left = max_records > records_taken_ ? max_records - records_taken_ : 0;
  return costs.per_record() * static_cast<double>(left) <= startup * kSpareMargin;
}

namespace {

bool costs_more(const CostMeter& tool, const CostMeter& daemon, double factor) {
  return tool.per_record() > factor * daemon.per_record() || tool.per_byte() > factor * daemon.per_byte();
}

}  // namespace

bool spreading_helps(const SpreadCosts& costs) {
  if (!costs.tool_wall.known() || !costs.daemon.known()) return true;
  return (costs.tool_cpu.known() && costs_more(costs.tool_cpu, costs.daemon, kSpreadCpuFactor)) ||
         costs_more(costs.tool_wall, costs.daemon, kSpreadWaitFactor);
}

bool secondary_takes_work(bool spreading_helps, bool talkative) { return spreading_helps || talkative; }

bool should_grow(const PoolLoad& load, const CostMeter& costs) {
  if (load.active >= load.max) return false;
  if (load.active == 0) return load.waiting_records > 0;
  if (!load.spreading_helps) return false;
  if (load.startup < 0 || !costs.known() || load.waiting_records == 0) return false;
  double backlog = costs.predict(load.waiting_records, load.waiting_bytes);
  return backlog / load.active > load.startup;
}

double retire_after(double startup) { return std::max(kRetireFloorSeconds, kRetireStartups * std::max(0.0, startup)); }

}  // namespace viasock::sched
