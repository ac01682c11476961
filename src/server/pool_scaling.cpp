// The pool's side of scheduling: starting, promoting and retiring instances
// as the policy in scheduler.h decides. One path retires an instance, idle
// or recycled: it takes no new work, finishes its batches in flight, its
// stdin is closed, and its exit is then not a failure.
#include <spdlog/spdlog.h>
#include <time.h>

#include <algorithm>

#include "common/exit_codes.h"
#include "server/clock.h"
#include "server/instance.h"
#include "server/pool.h"
#include "server/session.h"

namespace viasock {
namespace {

// How often the pool looks at its load while work waits (growth), and while
// it has instances beyond MIN (retirement).
constexpr auto kBusyTick = std::chrono::milliseconds(10);
constexpr auto kIdleTick = std::chrono::milliseconds(250);

}  // namespace

std::shared_ptr<Instance> Pool::add_instance(sched::Role role, int* status, std::string* error) {
  if (stopping_) return nullptr;
  if (stale()) {
    *status = kExitToolQuit;
    *error = stale_message();
    return nullptr;
  }
  auto instance = std::make_shared<Instance>(io_, *this, next_index_++, learned_kind_, Instance::Role::kServing);
  instance->schedule().set_role(role);
  // A successor (a spare, a replacement) takes no record before it loaded
  // and was found to have loaded the files of the calls it would serve
  // (instance_ready); the first instances take their records at once.
  if (ever_ready_ || records_answered_ > 0) instance->take_work_once_loaded();
  instances_.push_back(instance);
  if (!instance->start(status, error)) {
    remove_instance(instance.get());
    return nullptr;
  }
  if (role == sched::Role::kSpare) spdlog::info("instance {} started as a spare", instance->index());
  arm_tick();
  return instance;
}

void Pool::remove_instance(Instance* instance) {
  for (auto it = instances_.begin(); it != instances_.end(); ++it) {
    if (it->get() == instance) {
      instances_.erase(it);
      return;
    }
  }
}

int Pool::current_instances() const {
  int active = 0;
  for (auto& instance : instances_) active += instance->schedule().role() == sched::Role::kActive;
  return active;
}

void Pool::raise_max(int max) {
  if (max <= max_instances_) return;
  spdlog::info("up to {} instances now", max);
  max_instances_ = max;
  arm_tick();
}

void Pool::after_taking(Instance& instance) {
  uint64_t quota = config_.max_records;
  sched::InstanceSchedule& schedule = instance.schedule();
  // A call that has the instance to itself (it is being learned on, or the
  // tool keeps state) keeps it to its end: a successor would not know
  // what the call told this one. It is recycled once free (recycle_used).
  if (quota == 0 || schedule.role() != sched::Role::kActive || instance.owner()) return;
  if (!schedule.spare_asked() && schedule.needs_spare(quota, costs_, startup_) && !stale()) {
    schedule.set_spare_asked();
    int status = 0;
    std::string error;
    if (!add_instance(sched::Role::kSpare, &status, &error)) spdlog::warn("cannot start a spare: {}", error);
  }
  if (schedule.quota_used(quota)) recycle(instance);
}

void Pool::recycle_used() {
  for (auto& instance : std::vector(instances_))
    if (instance->schedule().role() == sched::Role::kActive && !instance->owner() &&
        instance->schedule().quota_used(config_.max_records))
      recycle(*instance);
}

void Pool::recycle(Instance& instance) {
  // Once the files changed, a spare started before takes over; without
  // one, the instances go on past their quota rather than give their
  // calls a successor that loaded other files.
  bool spare = std::any_of(instances_.begin(), instances_.end(),
                           [](auto& i) { return i->schedule().role() == sched::Role::kSpare; });
  if (!spare && stale()) {
    spdlog::info("instance {} serves on past --max-records: its files changed", instance.index());
    config_.max_records = 0;
    return;
  }
  spdlog::info("instance {} served its {} records (--max-records): recycling it", instance.index(),
               config_.max_records);
  retire(instance);
  if (!promote_spare() && !stopping_) {
    int status = 0;
    std::string error;
    if (!add_instance(sched::Role::kActive, &status, &error)) return cannot_serve(status, error);
  }
}

void Pool::retire(Instance& instance) {
  // Closes its stdin now when nothing is in flight, else once answered.
  instance.retire();
}

bool Pool::promote_spare() {
  for (auto& instance : instances_) {
    if (instance->schedule().role() != sched::Role::kSpare) continue;
    instance->schedule().set_role(sched::Role::kActive);
    spdlog::info("instance {} takes over", instance->index());
    asio::post(io_, [this] { kick(); });
    return true;
  }
  return false;
}

Instance* Pool::primary() {
  for (auto& instance : instances_)
    if (instance->serving()) return instance.get();
  return nullptr;
}

bool Pool::may_take_work(const Instance& instance) {
  if (exclusive_) return true;
  Instance* first = primary();
  if (!first || first == &instance) return true;
  if (sched::secondary_takes_work(spreading_helps(), first->talkative())) return true;
  // The work is the primary's. An idle primary pumps only when asked: this
  // instance may be the first to see the work (a replacement, a kick).
  if (first->idle()) {
    asio::post(io_, [weak = first->weak_from_this()] {
      if (auto self = weak.lock()) self->pump();
    });
  }
  return false;
}

// The daemon's CPU while the pool was idle (accepting a client, reading its
// greeting) went into no batch: its measure starts when work starts.
void Pool::instance_busy(const Instance& busy) {
  for (const auto& instance : instances_)
    if (instance.get() != &busy && !instance->idle()) return;
  daemon_cpu_ = DaemonClock::process_cpu_seconds();
}

void Pool::on_batch_done(const Instance& instance, size_t records, size_t bytes, double seconds, double tool_cpu) {
  // The daemon's CPU since the last batch was done went into moving this one.
  double cpu = DaemonClock::process_cpu_seconds();
  if (daemon_cpu_ >= 0 && seconds >= 0) spread_.daemon.observe(records, bytes, cpu - daemon_cpu_);
  daemon_cpu_ = cpu;
  if (seconds < 0) {
    // An upper bound only serves until the first real measurement.
    if (instance.schedule().startup_exact() || !startup_exact_) startup_ = instance.schedule().startup();
    startup_exact_ = startup_exact_ || instance.schedule().startup_exact();
    return;
  }
  costs_.observe(records, bytes, seconds);
  spread_.tool_wall.observe(records, bytes, seconds);
  if (tool_cpu >= 0) spread_.tool_cpu.observe(records, bytes, tool_cpu);
  log_spreading_change();
}

// Why a pool does or does not spread (and grow) is otherwise invisible.
void Pool::log_spreading_change() {
  // Said only where there is a choice: at -j 1 nothing can spread.
  if (max_instances_ <= 1) return;
  bool helps = spreading_helps();
  if (helps == spreading_logged_) return;
  spreading_logged_ = helps;
  spdlog::info(
      "spreading over instances {}: per record the tool takes {:.3f} ms ({:.3f} ms of CPU), the daemon {:.3f} ms",
      helps ? "helps" : "does not help", spread_.tool_wall.per_record() * 1e3, spread_.tool_cpu.per_record() * 1e3,
      spread_.daemon.per_record() * 1e3);
}

void Pool::arm_tick() {
  if (tick_armed_ || stopping_) return;
  bool growable = !queue_.empty() && current_instances() < max_instances_;
  bool shrinkable = current_instances() > min_instances();
  if (!growable && !shrinkable) return;
  tick_armed_ = true;
  tick_timer_.expires_after(growable ? kBusyTick : kIdleTick);
  tick_timer_.async_wait([this](const boost::system::error_code& error) {
    tick_armed_ = false;
    if (!error) tick();
  });
}

void Pool::tick() {
  grow_if_needed();
  retire_idle();
  arm_tick();
}

void Pool::grow_if_needed() {
  // While the learner decides, new instances would not know their stdout.
  if (learner_ && instances_.empty()) return;
  sched::PoolLoad load;
  load.active = current_instances();
  load.max = max_instances_;
  load.startup = startup_;
  load.spreading_helps = spreading_helps();
  for (auto& session : queue_.waiting()) {
    load.waiting_records += session->ready_records();
    load.waiting_bytes += session->ready_bytes();
  }
  if (!sched::should_grow(load, costs_)) return;
  spdlog::info("{} records wait, about {:.2f} s of work for {} instance(s): starting another", load.waiting_records,
               costs_.predict(load.waiting_records, load.waiting_bytes), load.active);
  int status = 0;
  std::string error;
  if (!add_instance(sched::Role::kActive, &status, &error)) spdlog::warn("cannot start another instance: {}", error);
}

void Pool::retire_idle() {
  int active = current_instances();
  if (active <= min_instances() || !queue_.empty()) return;
  double now = DaemonClock::seconds(), after = sched::retire_after(startup_);
  // The newest first: kick() offers work to the oldest first, so the newest
  // are the ones left idle when the load falls.
  for (auto it = instances_.rbegin(); it != instances_.rend() && active > min_instances(); ++it) {
    Instance& instance = **it;
    if (instance.schedule().role() != sched::Role::kActive || instance.schedule().idle_for(now) < after) continue;
    spdlog::info("instance {} idle for {:.1f} s: retiring it", instance.index(), instance.schedule().idle_for(now));
    retire(instance);
    --active;
  }
}

void Pool::restart() {
  if (stopping_ || fatal_) return;
  spdlog::info("restarting {} instance(s)", current_instances());
  for (auto& old : std::vector(instances_)) {
    if (old->schedule().role() != sched::Role::kActive) continue;
    // A call that has an instance to itself (a tool that keeps state, or the
    // call it is being learned on) keeps it to its end: a fresh process
    // would not know what the call told the old one. Its instance is
    // replaced after that call anyway.
    std::shared_ptr<Session> owner = old->owner();
    if (old->direct() || (exclusive_ && owner && owner->open())) {
      spdlog::info("restart: instance {} finishes its call first", old->index());
      // Replaced after that call when the tool keeps state; else once
      // the state probe freed it (set_stateful).
      restart_deferred_ = restart_deferred_ || learning();
      continue;
    }
    int status = 0;
    std::string error;
    auto fresh = add_instance(sched::Role::kActive, &status, &error);
    if (!fresh) {
      // Keep the old one serving rather than fail anything.
      spdlog::warn("restart: instance {} could not be replaced: {}", old->index(), error);
      continue;
    }
    retire(*old);
  }
  kick();
}

}  // namespace viasock
