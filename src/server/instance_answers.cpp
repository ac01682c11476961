// How an instance cuts what its tool prints into answers for the batches
// in flight (instance.h): framed, with many records in flight, or in
// lock-step, one record at a time; and the prelude before them.
#include <spdlog/spdlog.h>

#include <algorithm>

#include "common/exit_codes.h"
#include "server/clock.h"
#include "server/instance.h"
#include "server/pool.h"
#include "server/session.h"

namespace viasock {

// In lock-step the answer is complete only when the tool waits again; until
// then output only accumulates. A candidate keeps what it prints after its
// stdin closed for the learner's comparison.
void Instance::process_output() {
  // Killed by us: what it still printed is no one's.
  if (kill_reason_) return out_.clear();
  route_output();
  // What is left is one answer (or prelude) whose end has not come: held
  // whole until it does, so bounded like a record.
  if (!finished() && role_ != Role::kDirect && out_.size() > answer_limit()) answer_too_large();
}

void Instance::route_output() {
  if (stepping_ || (learns() && !loaded_)) return;
  if (role_ == Role::kCandidate) {
    take_late_output();
    return;
  }
  if (role_ == Role::kDirect) {
    drain_stderr();
    return route_direct();
  }
  // The tool's stderr lines about these answers reach their callers first.
  drain_stderr();
  route_framed();
  pump();
}

// The front call's --max-answer; the default for the learner's own records.
uint64_t Instance::answer_limit() const {
  if (!in_flight_.empty())
    if (auto session = in_flight_.front()->session.lock()) return session->max_answer();
  return RunOptions{}.max_answer;
}

// The calls in flight fail (their answers are in doubt from here on), and
// the tool, mid-answer, cannot serve another record.
void Instance::answer_too_large() {
  std::string message = answer_too_large_message(pool_.tool_facts(), answer_limit());
  spdlog::error("instance {}: {}", index_, message);
  kill_reason_ = "printed an answer larger than --max-answer, and viasock killed it";
  killed_over_max_answer_ = true;
  fail_in_flight(kExitRecordTooLarge, message);
  out_.clear();
  out_.release_if_large(kKeepBuffer);
  kill();
}

void Instance::take_late_output() {
  late_output_ += out_.view();
  out_.clear();
}

// Routes complete answers to the batches in flight, oldest first.
void Instance::route_framed() {
  size_t pos = 0;
  const RecordFramer& framer = pool_.output_framer();
  while (pos < out_.size()) {
    std::string_view rest(out_.data() + pos, out_.size() - pos);
    if (prelude_left_ > 0) {
      size_t used = take_prelude(rest);
      if (used == 0) break;
      pos += used;
      continue;
    }
    // A record the learner handed over is answered in lock-step: what is
    // left belongs to it.
    if (stepping_) break;
    if (in_flight_.empty()) {
      // Printed once its input closed (retiring, or the daemon stopping):
      // a summary of everything it read, no caller's answer.
      if (life_ >= InstanceLife::kClosing)
        pool_.prints_at_end(rest.size());
      else if (!give_to_segment(rest.size()))
        on_unattributed_output(rest.size());
      pos = out_.size();
      out_resume_ = 0;
      break;
    }
    Batch& batch = *in_flight_.front();
    size_t begin = pos;
    // As in Session::scan_input: the first answer resumes an earlier scan,
    // the rest are counted in one go.
    size_t end = framer.find_end(rest, &out_resume_);
    if (end == RecordFramer::npos) break;
    pos += end;
    out_resume_ = 0;
    size_t more_end = 0;
    size_t answered = 1 + framer.count(out_.view().substr(pos), batch.records - 1, &more_end);
    pos += more_end;
    batch.records -= answered;
    take_answers(batch, begin, &pos);
    answered_ = true;
    last_progress_ = DaemonClock::now();
    pool_.count_answers(answered);
    std::shared_ptr<Batch> front = in_flight_.front();
    if (batch.answered()) {
      double now = DaemonClock::seconds();
      double seconds = schedule_.on_batch_done(batch.record_count, batch.input_bytes, batch.sent_at, now);
      pool_.on_batch_done(*this, batch.record_count, batch.input_bytes, seconds, tool_cpu_since_last_batch());
      in_flight_bytes_ -= batch.input_bytes;
      in_flight_.pop_front();
      if (in_flight_.empty()) schedule_.on_idle(now);
      remember_answered(front);
    }
    if (auto session = front->session.lock()) session->on_answers();
  }
  out_.consume(pos);
  out_.release_if_large(kKeepOutput);
}

// The tool's CPU time since the last batch it finished went into this one
// (the next may have started meanwhile; over many batches that evens out).
double Instance::tool_cpu_since_last_batch() {
  double cpu = process_->cpu_seconds(), last = std::exchange(tool_cpu_at_batch_, cpu);
  return cpu >= 0 && last >= 0 ? cpu - last : -1;
}

// A 1:1 tool answers a large record with about as many bytes: room for
// them up front spares growing a huge buffer step by step, each step a copy
// that briefly holds the answer twice.
void Instance::reserve_for_answer(size_t more) {
  if (in_flight_.empty() || out_.size() + more <= out_.capacity()) return;
  size_t expected = in_flight_.front()->input_bytes + kReadChunk;
  if (expected > kKeepBuffer && expected > out_.size() + more) out_.reserve(expected);
}

// Passes out_[begin, *pos) to the batch: a large answer that is all of
// out_ (one huge record) is moved, anything else copied, so that the buffer
// of a stream is reused.
void Instance::take_answers(Batch& batch, size_t begin, size_t* pos) {
  if (begin == 0 && *pos == out_.size() && batch.answers.empty()) {
    batch.answers = out_.take(*pos, kKeepBuffer);
    *pos = 0;
    return;
  }
  batch.answers.append(out_.view().substr(begin, *pos - begin));
}

size_t Instance::take_prelude(std::string_view data) {
  const RecordFramer& framer = prelude_in_lines_ ? line_framer() : pool_.output_framer();
  size_t used = 0;
  while (prelude_left_ > 0) {
    size_t end = framer.find_end(data.substr(used), &out_resume_);
    if (end == RecordFramer::npos) break;
    used += end;
    out_resume_ = 0;
    --prelude_left_;
  }
  prelude_.append(data.substr(0, used));
  if (prelude_left_ == 0) pool_.set_prelude(prelude_);
  return used;
}

}  // namespace viasock
