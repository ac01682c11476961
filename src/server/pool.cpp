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

// Answers kept to learn their shape; past this many without a common shape
// the tool is served one record at a time for good.
constexpr size_t kMaxSamples = 32;
// A larger answer teaches nothing the next small ones do not, and keeping
// it would keep a huge record's answer resident.
constexpr size_t kMaxSampleBytes = 1 << 20;
// Start-up failures of an instance that once worked before the daemon gives
// up (the model file was deleted, the disk is full).
constexpr int kMaxStartFailures = 4;
constexpr int kMaxLearningRestarts = 3;
constexpr size_t kMaxStartUpStderr = 64 * 1024;

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

// What an earlier daemon of this ID learned stands for learning: the
// instances start as the learner would have chosen, and each takes its
// prelude from what it prints before it first waits for input.
void Pool::apply_profile(const ToolProfile& profile) {
  spdlog::info("starting from what an earlier daemon of this ID learned: {}", encode_profile(profile));
  remembered_ = true;
  last_remembered_ = profile;
  learned_kind_ = profile.stdout_kind;
  if (profile.output_format) {
    config_.output_format = *profile.output_format;
    output_framer_ = make_framer(config_.output_format);
    shape_known_ = true;
    lock_step_ = false;
    shape_description_ = "remembered";
  } else {
    shapeless_ = true;
  }
  stateful_ = exclusive_ = profile.stateful;
  state_known_ = true;
}

void Pool::remember_what_was_learned() {
  if (!config_.learn || !config_.remember || learning() || !state_known_ || holding_ || fatal_) return;
  if (!shape_known_ && !shapeless_) return;
  ToolProfile profile;
  profile.stdout_kind = learned_kind_;
  if (shape_known_) profile.output_format = config_.output_format;
  profile.stateful = stateful_;
  if (last_remembered_ == profile) return;
  last_remembered_ = profile;
  config_.remember(profile);
}

void Pool::answers_missing() {
  if (!remembered_ || fatal_) return;
  remembered_ = false;
  last_remembered_.reset();
  if (config_.forget) config_.forget();
  cannot_serve(kExitToolQuit, "what viasock remembered about tool '" + config_.command.name +
                                  "' no longer holds (it took records without answering); it forgot it: run the "
                                  "call again to learn the tool afresh");
}

// The learner chose this candidate; the others of -j N start like it.
void Pool::adopt(std::shared_ptr<Instance> instance, const std::shared_ptr<Session>& session) {
  learned_kind_ = instance->stdout_kind();
  ever_ready_ = true;
  // Until the learner knows whether the tool keeps state, the call it
  // learned on keeps this instance to itself.
  exclusive_ = true;
  instance->set_owner(session);
  if (session) session->claimed = true;
  instances_.push_back(instance);
  instance->promote(next_index_++);
  start_missing_instances();
}

bool Pool::learning() const { return learner_ && !learner_->done(); }

void Pool::hold(std::shared_ptr<Session> session) {
  Session* held = session.get();
  held_.push_back(std::move(session));
  if (learner_) learner_->call_over(held);
}

bool Pool::others_waiting(const Session* session) const {
  return std::any_of(ready_.begin(), ready_.end(),
                     [session](auto& other) { return other.get() != session && other->has_ready_input(); });
}

void Pool::answers_vary() {
  if (answers_vary_logged_) return;
  answers_vary_logged_ = true;
  spdlog::warn("the tool's answers do not keep to the learned shape ({}): each call gets what the tool printed "
               "between two moments it waited for input",
               shape_description_);
}

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
    if (session->open() && !session->claimed) session->fail(kExitToolQuit, message);
  };
  for (auto& session : std::deque(ready_)) fail(session);
  for (auto& session : std::vector(prelude_waiters_)) fail(session);
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
  if (!session->queued) {
    session->queued = true;
    ready_.push_back(session);
  }
  // An instance that stopped reading for a caller who does not read may
  // have to read on for this one (Instance::hold_for_caller).
  read_held_output();
  kick();
}

std::shared_ptr<Batch> Pool::take_work(size_t max_bytes, size_t max_records, std::string* bytes,
                                       bool new_segment) {
  for (size_t left = ready_.size(); left > 0 && !ready_.empty(); --left) {
    std::shared_ptr<Session> session = std::move(ready_.front());
    ready_.pop_front();
    session->queued = false;
    if (!session->has_ready_input()) continue;
    if (new_segment && !may_join(*session)) {
      session->queued = true;
      ready_.push_back(session);
      continue;
    }
    auto batch = session->take_batch(max_bytes, max_records, bytes);
    // To the back of the queue: the next batch goes to another client first.
    if (session->has_ready_input()) {
      session->queued = true;
      ready_.push_back(session);
    }
    return batch;
  }
  return nullptr;
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

std::shared_ptr<Session> Pool::claim_session() {
  for (auto& session : ready_) {
    if (session->claimed || !session->has_ready_input()) continue;
    session->claimed = true;
    return session;
  }
  return nullptr;
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
      instance.open_segment(batch->session);
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
    if (instance.answered() || !(owner = claim_session())) return nullptr;
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
  Session* session = batch->session.get();
  if (!session || batch->retries_left <= 0 || !session->open() || stopping_ || fatal_ || exclusive_) return false;
  --batch->retries_left;
  ++batch->deaths;
  session->drop_answered(*batch);
  spdlog::info("sending {} record(s) again to a fresh instance (--retry)", batch->records);
  retries_.push_back(batch);
  return true;
}

std::shared_ptr<Batch> Pool::take_retry() {
  while (!retries_.empty()) {
    std::shared_ptr<Batch> batch = std::move(retries_.front());
    retries_.pop_front();
    if (batch->session->open()) return batch;
  }
  return nullptr;
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

void Pool::set_stateful(bool stateful) {
  stateful_ = stateful;
  state_known_ = true;
  if (stateful) {
    spdlog::info("the tool keeps state, or viasock cannot tell: every call gets a fresh instance");
    // Set by adopt() when a candidate served its first call; a tool whose
    // first call was a direct run with framing given had none adopted.
    exclusive_ = true;
  } else {
    exclusive_ = false;
    for (auto& instance : instances_)
      if (instance) instance->set_owner(nullptr);
    for (auto& session : ready_) session->claimed = false;
    // What waited for the call the tool was learned on.
    if (config_.max_records > 0) recycle_used();
    if (std::exchange(restart_deferred_, false)) restart();
  }
  // The call the tool was learned on may have ended meanwhile.
  for (auto& instance : std::vector(instances_)) {
    std::shared_ptr<Session> owner = instance->owner();
    if (stateful && !instance->retiring() && instance->answered() && (!owner || owner->closed()))
      replace_used(*instance);
  }
  // With -j N, the others start once the tool is learned.
  start_missing_instances();
  remember_what_was_learned();
  kick();
}

void Pool::kick() {
  // Once the files changed no instance may start: records that come for
  // calls with none left fail rather than wait.
  if (stale_ && current_instances() == 0 && !learning()) fail_waiting(stale_message());
  if (learner_) learner_->pump();
  // Copied: pumping may add or remove instances.
  for (auto instance : std::vector(instances_)) instance->pump();
  if (!ready_.empty()) arm_tick();
}

void Pool::read_held_output() {
  if (learner_) learner_->read_held_output();
  for (auto instance : std::vector(instances_)) instance->read_held_output();
}

void Pool::wait_for_prelude(std::shared_ptr<Session> session) {
  if (prelude_known_)
    session->on_prelude(prelude_);
  else
    prelude_waiters_.push_back(session);
}

void Pool::set_prelude(const std::string& prelude) {
  if (prelude_known_) return;  // every instance prints it; clients get the first
  prelude_known_ = true;
  prelude_ = prelude;
  auto waiters = std::move(prelude_waiters_);
  prelude_waiters_.clear();
  for (auto& session : waiters) session->on_prelude(prelude_);
}

std::shared_ptr<Session> Pool::take_empty_call() {
  for (auto it = prelude_waiters_.begin(); it != prelude_waiters_.end(); ++it) {
    std::shared_ptr<Session> session = *it;
    if (!session->open() || !session->input_finished() || session->records_in() > 0) continue;
    prelude_waiters_.erase(it);
    return session;
  }
  return nullptr;
}

// A caller waiting for a starting tool sees what it says while it starts.
void Pool::session_joined(const std::shared_ptr<Session>& session) {
  if (ready()) return;
  if (!start_up_stderr_.empty()) session->on_tool_stderr(start_up_stderr_);
  start_up_listeners_.push_back(session);
}

void Pool::start_up_stderr(Instance& instance, std::string_view line) {
  if (learner_ && learner_->owns(&instance)) return learner_->start_up_stderr(instance, line);
  if (!ready()) broadcast_start_up_stderr(line);
}

void Pool::broadcast_start_up_stderr(std::string_view line) {
  if (start_up_stderr_.size() + line.size() <= kMaxStartUpStderr) start_up_stderr_.append(line);
  for (auto& weak : start_up_listeners_)
    if (auto session = weak.lock()) session->on_tool_stderr(line);
}

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
  start_up_listeners_.clear();
  start_up_stderr_.clear();
  kick();
}

bool Pool::ready() const {
  if (learner_ && instances_.empty()) return learner_->ready();
  for (const auto& instance : instances_)
    if (instance->ready() && !instance->retiring()) return true;
  return false;
}

void Pool::learn_answer(const std::string& answer) {
  if (framing_given() || shape_known_ || shapeless_ || samples_.size() >= kMaxSamples || answer.size() > kMaxSampleBytes) return;
  samples_.push_back(answer);
  AnswerShape shape = infer_answer_shape(samples_);
  if (!shape.decided) {
    if (samples_.size() == kMaxSamples) {
      spdlog::warn("the tool's answers have no common shape; serving one record at a time (give -T for speed)");
      shapeless_ = true;
      samples_.clear();
      remember_what_was_learned();
    }
    return;
  }
  shape_known_ = true;
  lock_step_ = false;
  shape_description_ = shape.description;
  config_.output_format = shape.format;
  output_framer_ = make_framer(shape.format);
  spdlog::info("learned the answers' shape from {} answer(s): {}", samples_.size(), shape.description);
  samples_.clear();
  remember_what_was_learned();
  kick();
}

// What a shared instance prints after its input closed belongs to no call
// that is still there to receive it; only a direct run would have given it.
void Pool::prints_at_end(size_t bytes) {
  if (stateful_) {
    spdlog::info("an instance printed {} bytes once its input closed, after its call ended", bytes);
    return;
  }
  spdlog::warn("the tool printed {} bytes once its input closed (a summary at the end of its input): calls it served "
               "beside others did not get them{}",
               bytes, state_known_ ? "; every call now gets an instance of its own, served as a direct run" : "");
  // While its state is still being probed, the probe decides.
  if (state_known_) set_stateful(true);
}

// Output nobody asked for: what was learned is wrong. A tool whose answers
// vary in length would only be misframed again by the next shape learned
// from a few answers, so it is served one record at a time for good.
void Pool::shape_broken() {
  if (!config_.learn || !shape_known_) return;
  spdlog::warn("the learned shape ({}) did not hold: serving the tool one record at a time", shape_description_);
  shape_known_ = false;
  shapeless_ = true;
  lock_step_ = true;
  samples_.clear();
  remember_what_was_learned();
}

void Pool::release_successes() {
  holding_ = false;
  remember_what_was_learned();
  auto held = std::move(held_);
  held_.clear();
  for (auto& session : held) session->finish_if_done();
}

void Pool::cannot_serve(int status, const std::string& message, std::string tool_output) {
  if (fatal_) return;
  fatal_ = true;
  held_.clear();
  on_fatal_({status, message, std::move(tool_output)});
}

void Pool::cannot_learn(const std::string& reason) {
  cannot_serve(kExitDaemon, cannot_learn_message(tool_facts(), reason));
}

void Pool::learning_failed(int status, const std::string& message, bool on_a_record) {
  if (!on_a_record || ++learning_restarts_ > kMaxLearningRestarts) return cannot_serve(status, message);
  learn_again();
}

void Pool::learn_again() {
  spdlog::info("learning again with new candidates");
  // The old learner's candidates were killed; they stay owned until reaped.
  old_learners_.push_back(std::move(learner_));
  learner_ = std::make_shared<StdoutLearner>(io_, *this);
  int start_status = 0;
  std::string error;
  if (!learner_->start(&start_status, &error)) return cannot_serve(start_status, error);
}

ToolFacts Pool::tool_facts() const {
  ToolFacts facts;
  facts.name = config_.command.name;
  facts.flush_hint = config_.flush_hint;
  facts.framing_given = framing_given();
  facts.line_buffered = config_.line_buffered;
  facts.on_terminal = learned_kind_ == StdoutKind::kTerminal;
  facts.output_format = config_.output_format;
  return facts;
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
  auto timer = std::make_shared<asio::steady_timer>(io_, delay);
  timer->async_wait([this, timer](const boost::system::error_code& error) {
    if (error || stopping_ || fatal_ || current_instances() >= min_instances()) return;
    if (stale()) return fail_waiting(stale_message());
    int status = 0;
    std::string start_error;
    if (!add_instance(sched::Role::kActive, &status, &start_error)) cannot_serve(status, start_error);
  });
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

std::vector<std::string> Pool::learned_args(bool* known) const {
  *known = !config_.learn || (!learning() && (shape_known_ || shapeless_) && !holding_);
  std::vector<std::string> args;
  if (!config_.learn) return args;
  if (learned_kind_ == StdoutKind::kTerminal) args.push_back("--pty");
  if (config_.output_format.kind == RecordFormat::kNull) args.push_back("-0");
  if (config_.output_format.kind == RecordFormat::kRegex)
    args.insert(args.end(), {"-T", config_.output_format.regex});
  size_t lines = static_cast<size_t>(std::count(prelude_.begin(), prelude_.end(), '\n'));
  if (!prelude_.empty() && prelude_.back() != '\n') *known = false;
  if (lines > 0) args.insert(args.end(), {"--prelude-lines", std::to_string(lines)});
  return args;
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
