#include "server/pool.h"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "common/exit_codes.h"
#include "server/answer_shape.h"
#include "server/instance.h"
#include "server/session.h"
#include "server/stdout_learner.h"

namespace viasock {
namespace {

// Start-up failures of an instance that once worked before the daemon gives
// up (the model file was deleted, the disk is full).
constexpr int kMaxStartFailures = 4;

std::chrono::milliseconds backoff(int failures) {
  if (failures <= 1) return std::chrono::milliseconds(0);
  return std::chrono::milliseconds(std::min(100 << std::min(failures - 2, 6), 5000));
}

}  // namespace

Pool::Pool(asio::io_context& io, PoolConfig config, FatalHandler on_fatal)
    : io_(io), config_(std::move(config)), on_fatal_(std::move(on_fatal)), stop_timer_(io), tick_timer_(io) {
  output_framer_ = make_framer(config_.output_format);
  lock_step_ = config_.learn;
  max_instances_ = config_.instances;
}

Pool::~Pool() = default;

bool Pool::start(int* status, std::string* error) {
  if (framing_given()) learned_kind_ = config_.stdout_kind;
  // Where framing was given, whether the tool keeps state is still learned
  // (by every daemon: only a learned framing is remembered).
  if (framing_given() || !config_.profile) {
    learner_ = std::make_shared<StdoutLearner>(io_, *this);
    return learner_->start(status, error);
  }
  apply_profile(*config_.profile);
  for (int i = 0; i < min_instances(); ++i)
    if (!add_instance(sched::Role::kActive, status, error)) return false;
  return true;
}

std::unique_ptr<ToolProcess> Pool::launch() const {
  return config_.launcher ? config_.launcher() : std::make_unique<ChildProcess>();
}

bool Pool::others_waiting(const Session* session) const { return queue_.others_waiting(session); }

bool Pool::stale() {
  if (!stale_ && config_.identity_current && !config_.identity_current()) {
    stale_ = true;
    spdlog::warn("the tool or one of its files changed: no new instance starts for calls begun before");
  }
  return stale_;
}

std::string Pool::stale_message() const {
  return "tool '" + config_.command.name +
         "' or a file it reads changed while this call waited for a new instance of it, which would have loaded "
         "the new files; run the call again";
}

void Pool::fail_waiting(const std::string& message) {
  auto fail = [&](const std::shared_ptr<Session>& session) {
    if (session->open() && !queue_.claimed(session)) session->fail(kExitToolQuit, message);
  };
  for (auto& session : queue_.waiting()) fail(session);
  for (auto& session : start_up_.prelude_waiters()) fail(session);
}

void Pool::start_missing_instances() {
  if (learning() || stopping_ || fatal_) return;
  if (current_instances() < min_instances() && stale()) return fail_waiting(stale_message());
  // Live processes count, retiring ones too: with -j 1 no two instances of
  // the tool ever exist at once (a model may fill the memory or the GPU).
  while (current_instances() < min_instances() && static_cast<int>(instances_.size()) < max_instances_) {
    int status = 0;
    std::string error;
    if (!add_instance(sched::Role::kActive, &status, &error)) return cannot_serve(status, error);
  }
}

template <class Visit>
void Pool::for_each_instance(Visit visit) {
  // Copied: a visit may replace an instance.
  for (auto instance : std::vector(instances_)) visit(*instance);
}

void Pool::offer(std::shared_ptr<Session> session) {
  queue_.offer(session);
  // An instance that stopped reading for a caller who does not read may
  // have to read on for this one (Instance::hold_for_caller).
  read_held_output();
  kick();
}

std::shared_ptr<Batch> Pool::take_work(size_t max_bytes, size_t max_records, std::string* bytes, bool new_segment) {
  if (!new_segment) return queue_.take(max_bytes, max_records, bytes);
  return queue_.take(max_bytes, max_records, bytes, [this](Session& session) { return may_join(session); });
}

// A new segment may take a session's next batch while another instance's
// segment holds its last one, which may still get output until that
// instance settles: the new batch must not be passed on before it. So that
// batch waits for the settle (Batch::Segment::kHeld), or, passed on already,
// the other instance is asked to settle first. Either way it is pumped
// soon: it may be idle.
bool Pool::may_join(Session& session) {
  std::shared_ptr<Batch> last = session.last_taken();
  if (!last) {
    // Passed on and freed already: an instance may still hold the segment
    // that batch ended, as if it were here and passed on. It must settle
    // first, or, idle, it is never pumped again and the call never ends.
    if (session.segments_open() == 0) return true;
    session.want_settle(true);
    asio::post(io_, [this] { kick(); });
    return false;
  }
  if (last->segment != Batch::Segment::kOpen) return true;
  bool held = !last->passed_on;
  if (held)
    last->segment = Batch::Segment::kHeld;
  else
    session.want_settle(true);
  asio::post(io_, [this] { kick(); });
  return held;
}

std::shared_ptr<Batch> Pool::take_work_for(Instance& instance, size_t max_bytes, size_t max_records,
                                           std::string* bytes) {
  std::shared_ptr<Batch> batch = choose_work_for(instance, max_bytes, max_records, bytes);
  if (batch && learner_ && learner_->owns(&instance)) learner_->saw_batch(*batch, *bytes);
  return batch;
}

std::shared_ptr<Batch> Pool::choose_work_for(Instance& instance, size_t max_bytes, size_t max_records,
                                             std::string* bytes) {
  if (!may_take_work(instance)) return nullptr;
  // Learned framing: one caller's records at a time (instance.h, segments).
  if (instance.in_segments() && !exclusive_) {
    std::shared_ptr<Batch> batch;
    if (std::shared_ptr<Session> owner = instance.segment_owner()) {
      // Only the caller's next batch (Instance::segment_should_settle).
      if (owner->has_ready_input() && instance.continues_segment(*owner))
        batch = owner->take_batch(max_bytes, max_records, bytes);
    } else if ((batch = take_work(max_bytes, max_records, bytes, true))) {
      if (auto owner = batch->session.lock()) instance.open_segment(owner);
    }
    if (batch) instance.took_in_segment(batch);
    return batch;
  }
  if (std::shared_ptr<Session> busy = instance.talkative() ? instance.session_in_flight() : nullptr) {
    // Its stderr lines must reach their caller: only that caller's records.
    if (!busy->has_ready_input()) return nullptr;
    return busy->take_batch(max_bytes, max_records, bytes);
  }
  if (!exclusive_) return take_work(max_bytes, max_records, bytes);
  std::shared_ptr<Session> owner = instance.owner();
  if (!owner) {
    // A used instance serves no second call; a fresh one claims a waiting call.
    if (instance.answered() || !(owner = queue_.claim())) return nullptr;
    instance.set_owner(owner);
    // A tool that keeps state serves each call as a direct run: everything
    // it prints until it exits, and its status, are the call's.
    if (stateful_) {
      instance.serve_directly(owner, nullptr);
      return nullptr;
    }
  }
  if (!owner->has_ready_input()) return nullptr;
  if (instance.in_segments() && !instance.segment_owner()) instance.open_segment(owner);
  auto batch = owner->take_batch(max_bytes, max_records, bytes);
  if (batch && instance.in_segments()) instance.took_in_segment(batch);
  return batch;
}

bool Pool::retry(const std::shared_ptr<Batch>& batch) {
  std::shared_ptr<Session> session = batch->session.lock();
  if (!session || batch->retries_left <= 0 || !session->open() || stopping_ || fatal_ || exclusive_) return false;
  --batch->retries_left;
  ++batch->deaths;
  session->drop_answered(*batch);
  spdlog::info("sending {} record(s) again to a fresh instance (--retry)", batch->records);
  queue_.retry(batch);
  return true;
}

void Pool::session_ended(Session* session) {
  if (learner_) {
    learner_->call_over(session);
    // A direct run whose caller is gone: its tool sees the end of its input.
    learner_->pump();
  }
  if (!exclusive_) return;
  for (auto& instance : std::vector(instances_)) {
    if (instance->owner().get() != session || instance->retiring()) continue;
    // A direct run whose caller is gone: its tool sees the end of its input.
    if (instance->direct()) return instance->pump();
    // Still learning: it may serve others once the tool is known stateless.
    if (stateful_) replace_used(*instance);
    return;
  }
}

// An instance that served its call retires; a fresh one starts at once, so
// that the next call finds it ready.
void Pool::replace_used(Instance& instance) {
  retire(instance);
  // Where -j allows no second live instance, the replacement starts once
  // this one has exited (instance_exited()).
  start_missing_instances();
}

void Pool::kick() {
  // Once the files changed no instance may start: records that come for
  // calls with none left fail rather than wait.
  if (stale_ && current_instances() == 0 && !learning()) fail_waiting(stale_message());
  if (learner_) learner_->pump();
  // Copied: pumping may add or remove instances.
  for (auto instance : std::vector(instances_)) instance->pump();
  if (!queue_.empty()) arm_tick();
}

void Pool::read_held_output() {
  if (learner_) learner_->read_held_output();
  for (auto instance : std::vector(instances_)) instance->read_held_output();
}

// A caller waiting for a starting tool sees what it says while it starts.
void Pool::session_joined(const std::shared_ptr<Session>& session) {
  if (!ready()) start_up_.listen(session);
}

void Pool::start_up_stderr(Instance& instance, std::string_view line) {
  if (learner_ && learner_->owns(&instance)) return learner_->start_up_stderr(instance, line);
  if (!ready()) broadcast_start_up_stderr(line);
}

void Pool::broadcast_start_up_stderr(std::string_view line) { start_up_.stderr_line(line); }

void Pool::instance_ready(Instance& instance, const std::string& prelude) {
  if (learner_ && learner_->owns(&instance) && instances_.empty()) return learner_->candidate_ready(instance, prelude);
  // A successor (a spare, a replacement) that loaded while the files
  // changed may have read either version: it serves no call begun with
  // the old ones. Checked once it is loaded, so a change while it started
  // counts too. (The first instances may become ready after a successor
  // started, but not after they answered.)
  if ((ever_ready_ || records_answered_ > 0) && stale()) {
    spdlog::warn("instance {} loaded after the tool's files changed: retiring it", instance.index());
    retire(instance);
    if (current_instances() == 0) fail_waiting(stale_message());
    return;
  }
  // A daemon that starts from what an earlier one learned (tool_profile.h)
  // takes the prelude from its first instance, as the learner would.
  if (!prelude_given() && !learning()) set_prelude(prelude);
  ever_ready_ = true;
  start_failures_ = 0;
  start_up_.start_up_over();
  kick();
}

bool Pool::ready() const {
  if (learner_ && instances_.empty()) return learner_->ready();
  for (const auto& instance : instances_)
    if (instance->ready() && !instance->retiring()) return true;
  return false;
}

void Pool::cannot_serve(int status, const std::string& message, std::string tool_output) {
  if (fatal_) return;
  fatal_ = true;
  held_.clear();
  on_fatal_({status, message, std::move(tool_output)});
}

void Pool::instance_exited(Instance* instance, bool expected, bool killed_by_us, int status,
                           const std::string& message) {
  if (stopping_) return check_stopped();
  bool adopted = std::any_of(instances_.begin(), instances_.end(), [instance](auto& i) { return i.get() == instance; });
  bool learning = learner_ && learner_->owns(instance) && !learner_->done();
  if (learning && !adopted) return learner_->candidate_exited(instance, expected, status, message);
  if (!adopted) return;
  std::shared_ptr<Instance> gone = instance->shared_from_this();
  remove_instance(instance);
  // The instance the first call was served on: the learner decides, and
  // may start learning over (learn_again), with candidates of its own.
  if (learning) {
    const StdoutLearner* deciding = learner_.get();
    learner_->candidate_exited(instance, expected, status, message);
    if (learner_.get() != deciding) return;
  }
  if (gone->schedule().role() == sched::Role::kRetiring || expected) {
    // Retired, recycled, replaced or a direct run that ended: it finished
    // its work and exited as asked; its successor may start now.
    spdlog::info("instance {} retired", gone->index());
    start_missing_instances();
    return;
  }
  if (fatal_) return;
  // Worked: waited for input, or answered (a busy tool may never wait).
  bool was_ready = gone->ready() || gone->answered();
  if (!ever_ready_ && records_answered_ == 0) {
    // It never worked: restarting would only fail again, in a loop.
    spdlog::error("the tool failed before it was ready: {}", message);
    return cannot_serve(status, message);
  }
  if (!was_ready && !killed_by_us && ++start_failures_ >= kMaxStartFailures)
    return cannot_serve(status, "the tool keeps failing at start-up: " + message);
  if (promote_spare()) return kick();
  spdlog::info("instance {} is gone: starting a new tool process", gone->index());
  replace_later(backoff(start_failures_));
  // Records sent again go to whichever instance is free first.
  if (has_retries()) kick();
}

// A tool that fails at start-up again and again is restarted ever more
// slowly, so a crash loop does not eat the machine. One killed by a record
// is replaced at once.
void Pool::replace_later(std::chrono::milliseconds delay) {
  auto timer = std::make_shared<Timer>(io_, delay);
  timer->async_wait([this, timer](const boost::system::error_code& error) {
    if (error || stopping_ || fatal_ || current_instances() >= min_instances()) return;
    if (stale()) return fail_waiting(stale_message());
    int status = 0;
    std::string start_error;
    if (!add_instance(sched::Role::kActive, &status, &start_error)) cannot_serve(status, start_error);
  });
}

void Pool::reap() {
  if (learner_) learner_->reap();
  for (auto& old : old_learners_) old->reap();
  std::erase_if(old_learners_, [](const auto& old) { return old->finished(); });
  for_each_instance([](Instance& instance) { instance.reap(); });
}

void Pool::stop(std::function<void()> done) {
  stopping_ = true;
  tick_timer_.cancel();
  on_stopped_ = std::move(done);
  if (learner_) learner_->close();
  for_each_instance([](Instance& instance) { instance.close_input(); });
  // A tool that does not exit when its stdin closes is killed.
  stop_timer_.expires_after(std::chrono::seconds(5));
  stop_timer_.async_wait([this](const boost::system::error_code& error) {
    if (error) return;
    if (learner_) learner_->kill();
    for_each_instance([](Instance& instance) {
      if (!instance.finished()) instance.kill();
    });
  });
  check_stopped();
}

void Pool::check_stopped() {
  if (learner_ && !learner_->finished()) return;
  for (auto& old : old_learners_)
    if (!old->finished()) return;
  for (auto& instance : instances_)
    if (!instance->finished()) return;
  stop_timer_.cancel();
  if (on_stopped_) std::exchange(on_stopped_, nullptr)();
}

}  // namespace viasock
