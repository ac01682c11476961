// The watches of a working instance (quiescence_watch.h): in lock-step,
// the answer is complete once the tool waits for input again; otherwise a
// watchdog looks now and then whether records sit unanswered in a tool that
// waits for more.
#include <spdlog/spdlog.h>

#include "common/exit_codes.h"
#include "server/instance.h"
#include "server/pool.h"
#include "server/session.h"

namespace viasock {
namespace {

// How long records may sit in a quiescent tool before the call fails: the
// watchdog looks this often while records are in flight.
constexpr auto kStuckCheck = std::chrono::seconds(1);
// In segments: the first look soon, then ever more rarely while the tool
// is busy (each look is a wake-up), at least every 50 ms.
constexpr auto kSegmentCheck = std::chrono::milliseconds(5);
constexpr auto kSegmentCheckMax = std::chrono::milliseconds(50);

}  // namespace

// The tool waits for input before it printed the prelude it was said to
// have: feeding it records would make their answers part of the prelude,
// sent to every later call.
void Instance::prelude_incomplete() {
  const PoolConfig& config = pool_.config();
  int expected = prelude_in_lines_ ? config.prelude_lines : config.prelude_records;
  std::string message =
      prelude_incomplete_message(pool_.tool_facts(), expected - prelude_left_, expected, prelude_in_lines_);
  kill();
  pool_.cannot_serve(kExitToolQuit, message);
}

void Instance::watch_answer(std::chrono::microseconds after) {
  quiet_.start(
      observer(), puller(), stdout_kind_ == StdoutKind::kTerminal,
      [weak = weak_from_this()](ToolActivity activity) {
        if (auto self = weak.lock()) self->on_answer_quiet(activity);
      },
      after);
}

// The tool waits for input with records unanswered. Where framing was given
// that breaks it, unless an answer is still due from a timer
// (late_answer_grace.h): true while the grace runs, with the look
// `look_again` scheduled for its end.
bool Instance::in_late_answer_grace(void (Instance::*look_again)(std::chrono::microseconds)) {
  if (!pool_.framing_given()) return false;
  double timeout = 0;
  for (const auto& batch : in_flight_) timeout = std::max(timeout, batch->timeout);
  double left = late_answer_grace_.look(DaemonClock::seconds(), printed_bytes_, LateAnswerGrace::seconds_for(timeout));
  if (left <= 0) return false;
  // Looked at often enough to pass an answer on soon after it came.
  double next = std::min(left, LateAnswerGrace::kLookSeconds);
  (this->*look_again)(std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::duration<double>(next)));
  return true;
}

// Lock-step: the tool waits again, so everything it printed is the answer.
void Instance::on_answer_quiet(ToolActivity activity) {
  if (activity == ToolActivity::kUnobservable)
    return pool_.cannot_learn("cannot observe the tool through /proc/PID/syscall on this system");
  if (finished() || in_flight_.empty() || activity != ToolActivity::kWaitingForInput) return;
  if (out_.empty() && in_late_answer_grace(&Instance::watch_answer)) return;
  late_answer_grace_.reset();
  drain_stderr();
  stepping_ = false;
  std::shared_ptr<Batch> batch = std::move(in_flight_.front());
  in_flight_.pop_front();
  in_flight_bytes_ -= batch->input_bytes;
  last_progress_ = DaemonClock::now();
  out_resume_ = 0;
  batch->answers = out_.take(out_.size(), kKeepBuffer);
  batch->records = 0;
  if (batch->to_sink) {
    if (auto sink = batch->sink.lock()) sink->on_batch_answered(*batch);
    return pump();
  }
  std::shared_ptr<Session> session = batch->session.lock();
  if (batch->answers.empty() && !answered_) {
    // It will answer later, if ever (sort answers at the end of its input):
    // nothing can be passed on as this record's answer.
    std::string message = no_answer_message(pool_.tool_facts(), 1, false, record_text(*batch, 0));
    spdlog::warn("instance {}: {}: {}; killing it", index_, session ? session->log_name() : "a call now gone", message);
    if (session) session->fail(kExitToolQuit, message);
    kill();
    return pool_.answers_missing();
  }
  // A tool that answered records before and waits again without printing
  // answered this one with nothing (grep's line that does not match);
  // should it print later after all, that output goes to the same caller
  // or fails loudly (give_to_segment, on_unattributed_output). An empty
  // answer teaches no shape.
  answered_ = true;
  pool_.count_answers(1);
  remember_answered(batch);
  // Learned from before it goes out: passing it on moves it.
  if (!batch->answers.empty()) pool_.learn_answer(batch->answers);
  if (session) session->on_answers();
  pump();
}

// While records are in flight, look now and then whether the tool took them
// and waits for more without answering: a tool that buffers its output, one
// that needs other framing options, or one that is no record filter at all.
// `after`, when not negative, is the delay of the first look.
void Instance::watch_stuck(std::chrono::microseconds after) {
  // A direct run may wait for all its input before it answers (sort).
  if (quiet_.active() || in_flight_.empty() || role_ == Role::kDirect) return;
  // In segments a tool that answered before and waits with records in
  // flight answered them with nothing: looked for often, as the window
  // stalls until then.
  bool segment = in_segments() && answered_;
  std::chrono::microseconds first = after.count() >= 0 ? after : segment ? kSegmentCheck : kStuckCheck;
  std::chrono::microseconds most = segment ? kSegmentCheckMax : kStuckCheck;
  quiet_.start(
      observer(), puller(), stdout_kind_ == StdoutKind::kTerminal,
      [weak = weak_from_this()](ToolActivity activity) {
        if (auto self = weak.lock()) self->on_stuck_check(activity);
      },
      first, most);
}

void Instance::on_stuck_check(ToolActivity activity) {
  if (finished() || in_flight_.empty() || activity != ToolActivity::kWaitingForInput) return late_answer_grace_.reset();
  if (writing_ || stepping_ || settling_) return watch_stuck();
  if (in_late_answer_grace(&Instance::watch_stuck)) return;
  late_answer_grace_.reset();
  // The records left took no answer of the shape (grep's 0 lines): the
  // tool is quiescent, so the segment settles now.
  if (in_segments() && answered_) return on_segment_quiet(activity);
  size_t records = 0;
  for (const auto& batch : in_flight_) records += batch->records;
  const Batch& front = *in_flight_.front();
  std::string message =
      no_answer_message(pool_.tool_facts(), records, false, record_text(front, front.record_count - front.records));
  if (!out_.empty())
    message += "; it printed " + std::to_string(out_.size()) + " bytes that do not end an answer (check -T/-0)";
  std::shared_ptr<Session> call = front.session.lock();
  spdlog::warn("instance {}: {}: {}; killing it", index_,
               front.to_sink ? "the learner"
               : call        ? call->log_name()
                             : "a call now gone",
               message);
  fail_in_flight(kExitToolQuit, message);
  kill();
  pool_.answers_missing();
}

}  // namespace viasock
