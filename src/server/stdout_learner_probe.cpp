// The state probe (stdout_learner.h): once the first call is over, its
// first record goes to the same instance three times more, and two of its
// longest records after them; an answer that differs means the tool keeps
// state between records, and every later call gets an instance of its own.
#include <spdlog/spdlog.h>

#include <functional>

#include "common/exit_codes.h"
#include "server/instance.h"
#include "server/pool.h"
#include "server/session.h"
#include "server/stdout_learner.h"

namespace viasock {
namespace {

// How often the state probe repeats the first record: a tool that answers
// every second or third record differently (one that skips every third,
// like awk 'NR % 3'), whatever the phase, shows it within three repeats.
// Each repeat delays the first call's success by one record's time.
constexpr int kProbes = 3;

// The first record may show no state where other records do: an empty
// line, a record a tool that numbers only some output answers the same each
// time, or a tool that holds its last word when the first record has none.
// So the two longest records among the first call's first kScan bytes (at
// most kMaxProbeRecord each, longer than the first), X and Y, go in as X, Y,
// X after the first record's repeats, and X must be answered the same both
// times: Y in between changes what a tool that looks ahead or back holds.
constexpr size_t kScan = 1 << 20;
constexpr size_t kMaxProbeRecord = 64 << 10;

}  // namespace

std::shared_ptr<Batch> StdoutLearner::copy_of_record() {
  auto copy = std::make_shared<Batch>();
  copy->sink = shared_from_this();
  copy->to_sink = true;
  copy->records = 1;
  copy->input_bytes = record_bytes_->size();  // room for a 1:1 answer up front
  // The first call's -w: how long its answers may take, probes included.
  copy->timeout = record_timeout_;
  return copy;
}

void StdoutLearner::saw_batch(const Batch& batch, std::string_view bytes) {
  if (stage_ != Stage::kFirstCall || scanned_ >= kScan) return;
  std::shared_ptr<Session> first = first_call_.lock();
  if (!first || batch.session.lock() != first) return;
  bytes = bytes.substr(0, kScan - scanned_);
  scanned_ += bytes.size();
  // Batches hold whole records (the last one may be cut by the scan limit).
  for (size_t start = 0; start < bytes.size();) {
    size_t resume = 0;
    size_t end = first->framer().find_end(bytes.substr(start), &resume);
    if (end == RecordFramer::npos) return;
    keep_if_longer(bytes.substr(start, end));
    start += end;
  }
}

void StdoutLearner::keep_if_longer(std::string_view record) {
  if (record.size() <= record_bytes_->size() || record.size() > kMaxProbeRecord) return;
  if (longest_[1] && record.size() <= longest_[1]->size()) return;
  for (const auto& kept : longest_)
    if (kept && *kept == record) return;
  longest_[1] = std::make_shared<const std::string>(record);
  if (!longest_[0] || longest_[1]->size() > longest_[0]->size()) std::swap(longest_[0], longest_[1]);
}

void StdoutLearner::probe(const std::shared_ptr<Instance>& instance) {
  probe_steps_.clear();
  for (int i = 0; i < kProbes; ++i) probe_steps_.push_back({record_bytes_, ProbeStep::kLikeFirstAnswer});
  if (const auto& x = longest_[0]) {
    probe_steps_.push_back({x, ProbeStep::kReference});
    if (longest_[1]) probe_steps_.push_back({longest_[1], ProbeStep::kIgnored});
    probe_steps_.push_back({x, ProbeStep::kLikeReference});
  }
  longest_ = {};
  feed_probe(*instance);
}

void StdoutLearner::feed_probe(Instance& instance) {
  copy_ = copy_of_record();
  instance.feed(copy_, probe_steps_.front().record);
}

void StdoutLearner::call_over(Session* session) {
  if (stage_ != Stage::kFirstCall) return;
  std::shared_ptr<Session> first = first_call_.lock();
  if (first && first.get() != session) return;
  // The call's segment was settled before it could end (Session::
  // segment_settled); a call that went away is settled before the probe
  // is written (Instance::pump).
  stage_ = Stage::kProbing;
  probe(pipe_);
}

void StdoutLearner::on_probe_answer(const std::string& answer) {
  ProbeStep step = probe_steps_.front();
  probe_steps_.pop_front();
  Fingerprint seen = fingerprint(answer);
  bool stateful = false;
  switch (step.check) {
    case ProbeStep::kLikeFirstAnswer: stateful = seen != first_answer_; break;
    case ProbeStep::kReference: probe_reference_ = seen; break;
    case ProbeStep::kIgnored: break;
    case ProbeStep::kLikeReference: stateful = seen != probe_reference_; break;
  }
  if (!stateful && !probe_steps_.empty()) return feed_probe(stage_ == Stage::kTerminalProbe ? *terminal_ : *pipe_);
  probe_steps_.clear();
  if (stage_ == Stage::kTerminalProbe) {
    stage_ = Stage::kDone;
    record_bytes_.reset();
    pool_.set_prelude(terminal_prelude_);
    pool_.adopt(terminal_, nullptr);
    return pool_.set_stateful(stateful);
  }
  if (!stateful) {
    stage_ = Stage::kDone;
    record_bytes_.reset();
    pool_.set_stateful(false);
    return pool_.release_successes();
  }
  // What it prints once its input closes decides the first call.
  stage_ = Stage::kClosing;
  pipe_->demote();
}

void StdoutLearner::finish_closing(std::string late_output) {
  stage_ = Stage::kDone;
  record_bytes_.reset();
  std::shared_ptr<Session> first = first_call_.lock();
  if (!late_output.empty() && first) {
    first->fail(kExitToolQuit,
                "tool '" + pool_.config().command.name +
                    "' keeps state between records and prints more when its input ends, which viasock "
                    "learned only after this call was answered: the end of its output is lost; run the call "
                    "again (every call now gets an instance of its own, as in a direct run)");
  }
  pool_.set_stateful(true);
  pool_.release_successes();
  pool_.start_missing_instances();
}

StdoutLearner::Fingerprint StdoutLearner::fingerprint(std::string_view bytes) {
  return {bytes.size(), std::hash<std::string_view>{}(bytes)};
}

}  // namespace viasock
