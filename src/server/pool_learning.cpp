// The pool's side of learning a tool (stdout_learner.h decides how its
// stdout is connected and whether it keeps state; answer_shape.h how its
// answers end): applying what was learned or remembered, and what the
// pool serves while it learns.
#include <spdlog/spdlog.h>

#include <algorithm>

#include "common/exit_codes.h"
#include "server/answer_shape.h"
#include "server/instance.h"
#include "server/pool.h"
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
// Learning restarts (a candidate died on a record) before the daemon gives up.
constexpr int kMaxLearningRestarts = 3;

}  // namespace

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
  if (session) queue_.claim(session);
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

void Pool::answers_vary() {
  if (answers_vary_logged_) return;
  answers_vary_logged_ = true;
  spdlog::warn(
      "the tool's answers do not keep to the learned shape ({}): each call gets what the tool printed "
      "between two moments it waited for input",
      shape_description_);
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
    queue_.release_claims();
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

void Pool::learn_answer(const std::string& answer) {
  if (framing_given() || shape_known_ || shapeless_ || samples_.size() >= kMaxSamples ||
      answer.size() > kMaxSampleBytes)
    return;
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
  spdlog::warn(
      "the tool printed {} bytes once its input closed (a summary at the end of its input): calls it served "
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
  for (auto& weak : held)
    if (auto session = weak.lock()) session->finish_if_done();
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

std::vector<std::string> Pool::learned_args(bool* known) const {
  *known = !config_.learn || (!learning() && (shape_known_ || shapeless_) && !holding_);
  std::vector<std::string> args;
  if (!config_.learn) return args;
  if (learned_kind_ == StdoutKind::kTerminal) args.push_back("--pty");
  if (config_.output_format.kind == RecordFormat::kNull) args.push_back("-0");
  if (config_.output_format.kind == RecordFormat::kRegex) args.insert(args.end(), {"-T", config_.output_format.regex});
  const std::string& prelude = start_up_.prelude();
  size_t lines = static_cast<size_t>(std::count(prelude.begin(), prelude.end(), '\n'));
  if (!prelude.empty() && prelude.back() != '\n') *known = false;
  if (lines > 0) args.insert(args.end(), {"--prelude-lines", std::to_string(lines)});
  return args;
}

}  // namespace viasock
