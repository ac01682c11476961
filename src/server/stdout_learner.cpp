#include "server/stdout_learner.h"

#include <spdlog/spdlog.h>

#include "common/exit_codes.h"
#include "server/instance.h"
#include "server/pool.h"
#include "server/session.h"

namespace viasock {
namespace {

// How long the pipe candidate may take to print what it buffered and exit
// once its stdin closed.
constexpr auto kVerifyWait = std::chrono::seconds(10);

std::shared_ptr<Batch> copy_of(const Batch& record, std::shared_ptr<BatchSink> sink) {
  auto copy = std::make_shared<Batch>();
  copy->sink = std::move(sink);
  copy->records = 1;
  copy->input_bytes = record.input_bytes;  // room for a 1:1 answer up front
  copy->timeout = record.timeout;
  return copy;
}

}  // namespace

StdoutLearner::StdoutLearner(asio::io_context& io, Pool& pool) : verify_timer_(io), pool_(pool) {
  pipe_ = std::make_shared<Instance>(io, pool, 0, StdoutKind::kPipe, Instance::Role::kCandidate);
  terminal_ = std::make_shared<Instance>(io, pool, 1, StdoutKind::kTerminal, Instance::Role::kCandidate);
}

bool StdoutLearner::start(int* status, std::string* error) {
  spdlog::info("learning the tool: a pipe and a terminal candidate");
  return pipe_->start(status, error) && terminal_->start(status, error);
}

bool StdoutLearner::owns(const Instance* instance) const {
  return instance == pipe_.get() || instance == terminal_.get();
}

void StdoutLearner::kill() {
  if (pipe_ && !pipe_->finished()) pipe_->kill();
  if (terminal_ && !terminal_->finished()) terminal_->kill();
}

bool StdoutLearner::finished() const {
  return (!pipe_ || pipe_->finished()) && (!terminal_ || terminal_->finished());
}

void StdoutLearner::reap() {
  if (pipe_) pipe_->reap();
  if (terminal_) terminal_->reap();
}

void StdoutLearner::close() {
  if (pipe_) pipe_->close_input();
  if (terminal_) terminal_->close_input();
}

void StdoutLearner::candidate_ready(Instance& candidate, const std::string& prelude) {
  if (&candidate == pipe_.get()) {
    pipe_ready_ = true;
    pipe_prelude_ = prelude;
  } else {
    terminal_ready_ = true;
    terminal_prelude_ = prelude;
  }
  if (pipe_ready_ && terminal_ready_ && stage_ == Stage::kStarting) on_both_ready();
}

// Equal preludes (usually both empty) are the prelude; different ones mean
// that the pipe candidate buffers or prints differently, which the terminal
// candidate can serve only if the pipe candidate's whole output agrees.
void StdoutLearner::on_both_ready() {
  if (pipe_prelude_ == terminal_prelude_) {
    stage_ = Stage::kComparing;
    pool_.set_prelude(terminal_prelude_);
    return pump();
  }
  choose(terminal_, terminal_prelude_);
  verify_terminal("");
}

void StdoutLearner::pump() {
  if (stage_ != Stage::kComparing || record_) return;
  std::string bytes;
  record_ = pool_.take_work(SIZE_MAX, 1, &bytes);
  if (!record_) return;
  record_bytes_ = std::make_shared<const std::string>(std::move(bytes));
  pipe_copy_ = copy_of(*record_, shared_from_this());
  terminal_copy_ = copy_of(*record_, shared_from_this());
  answers_pending_ = 2;
  pipe_->feed(pipe_copy_, record_bytes_);
  terminal_->feed(terminal_copy_, record_bytes_);
}

void StdoutLearner::on_batch_answered(Batch& batch) {
  if (&batch == repeat_copy_.get()) {
    // The pipe candidate being verified answers at its exit instead.
    if (!repeater_) return;
    pool_.set_stateful(fingerprint(batch.answers) != first_answer_);
    std::string().swap(batch.answers);
    repeater_->retire();
    return;
  }
  if (answers_pending_ > 0 && --answers_pending_ == 0) decide();
}

// The candidates' answers are moved out of their batches: what is compared
// later is remembered by a fingerprint, so nothing of them stays.
void StdoutLearner::decide() {
  std::string pipe_answer = std::exchange(pipe_copy_->answers, {});
  std::string terminal_answer = std::exchange(terminal_copy_->answers, {});
  // A pipe answer that stops short of the terminal's is a full stdio buffer
  // of a tool that buffers on a pipe: the rest would come only with later
  // output. (A tool that answers differently on a terminal, colour say,
  // answers on a pipe all the same: the pipe serves it.)
  bool stopped_short = pipe_answer.size() < terminal_answer.size() && terminal_answer.starts_with(pipe_answer);
  if (!pipe_answer.empty() && !stopped_short) {
    spdlog::info("the tool answers on a pipe: serving through pipes");
    choose(pipe_, pipe_prelude_);
    stage_ = Stage::kDone;
    probe_state(terminal_, terminal_answer);
    terminal_answer.clear();
    return answer_record(std::move(pipe_answer));
  }
  if (!terminal_answer.empty()) {
    spdlog::info("the tool buffers its output on a pipe: checking its output on a terminal against a pipe's");
    choose(terminal_, terminal_prelude_);
    pipe_printed_ = std::move(pipe_answer);
    // The stage changes before the answer goes out: passing it on may pull
    // the next record, which must go to the chosen instance alone.
    verify_terminal(terminal_answer);
    return answer_record(std::move(terminal_answer));
  }
  record_bytes_.reset();
  std::string message = pool_.no_answer_message(1);
  spdlog::error("{}", message);
  auto record = std::exchange(record_, nullptr);
  record->session->fail(kExitToolQuit, message);
  pool_.cannot_serve(kExitToolQuit, message);
}

void StdoutLearner::choose(const std::shared_ptr<Instance>& chosen, const std::string& prelude) {
  pool_.set_prelude(prelude);
  pool_.adopt(chosen, record_ ? record_->session : nullptr);
}

void StdoutLearner::probe_state(const std::shared_ptr<Instance>& loser, const std::string& first_answer) {
  if (first_answer.empty()) {
    // It never answered on its kind of stdout: nothing to compare.
    spdlog::info("the losing candidate did not answer: taking the tool for one that keeps no state");
    pool_.set_stateful(false);
    record_bytes_.reset();
    return loser->retire();
  }
  repeater_ = loser;
  first_answer_ = fingerprint(first_answer);
  repeat_copy_ = copy_of(*record_, shared_from_this());
  loser->feed(repeat_copy_, std::move(record_bytes_));
}

// The answer is learned from before it goes out: passing it on moves it.
void StdoutLearner::answer_record(std::string answer) {
  auto record = std::exchange(record_, nullptr);
  pool_.learn_answer(answer);
  record->answers = std::move(answer);
  record->records = 0;
  pool_.count_answers(1);
  record->session->on_answers();
}

StdoutLearner::Fingerprint StdoutLearner::fingerprint(std::string_view bytes) {
  return {bytes.size(), std::hash<std::string_view>{}(bytes)};
}

// Closing the pipe candidate's stdin makes it print what it buffered and
// exit; candidate_exited() compares that with the terminal's prelude and
// `answer` (empty when the preludes already differ: no record was sent).
void StdoutLearner::verify_terminal(const std::string& answer) {
  stage_ = Stage::kVerifying;
  first_answer_ = fingerprint(answer);
  pool_.hold_successes();
  if (!answer.empty()) {
    repeat_copy_ = copy_of(*record_, shared_from_this());
    pipe_->feed(repeat_copy_, std::move(record_bytes_));
  }
  // Once the repeated record is written: see candidate_exited().
  pipe_->retire();
  verify_timer_.expires_after(kVerifyWait);
  verify_timer_.async_wait([self = shared_from_this()](const boost::system::error_code& error) {
    if (error || self->stage_ != Stage::kVerifying) return;
    self->stage_ = Stage::kDone;
    self->pipe_->kill();
    self->pool_.cannot_serve(kExitToolQuit, "tool '" + self->pool_.config().command.argv[0] +
                                                "' did not exit within 10 s after its input closed, so viasock "
                                                "cannot check that it prints the same on a terminal; " +
                                                self->pool_.framing_hint());
  });
}

void StdoutLearner::candidate_exited(Instance* candidate, bool expected, int status, const std::string& message) {
  if (stage_ == Stage::kVerifying && candidate == pipe_.get()) {
    stage_ = Stage::kDone;
    verify_timer_.cancel();
    // The pipe printed the prelude and the answer, then the repeated
    // record's answer, in order: what filled its stdio buffer while each
    // record was in flight (pipe_printed_, then the repeat's batch), the
    // rest when its input closed.
    std::string actual = pipe_prelude_ + std::exchange(pipe_printed_, {});
    if (repeat_copy_) actual += std::exchange(repeat_copy_->answers, {});
    actual += pipe_->release_late_output();
    std::string_view rest = actual;
    size_t answer = first_answer_.size;
    if (rest.starts_with(terminal_prelude_) && rest.size() >= terminal_prelude_.size() + answer &&
        fingerprint(rest.substr(terminal_prelude_.size(), answer)) == first_answer_) {
      rest.remove_prefix(terminal_prelude_.size() + answer);
      pool_.set_stateful(answer > 0 && fingerprint(rest) != first_answer_);
      return on_verified();
    }
    spdlog::error("pipe output ({} bytes) differs from terminal output ({} bytes)", actual.size(),
                  terminal_prelude_.size() + answer);
    return pool_.cannot_serve(kExitToolQuit, terminal_differs_message());
  }
  if (expected || stage_ == Stage::kDone) return;
  // A candidate died before the choice: at start-up the tool cannot run;
  // on a record, that record killed it (its caller is failed by
  // on_batch_failed) and learning starts again with new candidates.
  stage_ = Stage::kDone;
  if (pipe_) pipe_->kill();
  if (terminal_) terminal_->kill();
  pool_.learning_failed(status, message, pipe_copy_ != nullptr);
}

void StdoutLearner::on_verified() {
  spdlog::info("the tool prints the same on a pipe and a terminal: serving through a terminal");
  pool_.release_successes();
}

void StdoutLearner::on_batch_failed(Batch& batch, int status, const std::string& message) {
  if (&batch == repeat_copy_.get() && repeater_) {
    // The record killed it the second time: whether the tool keeps state
    // is unknown, so every call gets a fresh instance, which is always right.
    spdlog::warn("the repeated record killed the losing candidate; giving every call a fresh instance");
    return pool_.set_stateful(true);
  }
  if (!record_) return;
  auto record = std::exchange(record_, nullptr);
  record->session->fail(status, message);
}

void StdoutLearner::on_batch_stderr(Batch& batch, std::string_view bytes) {
  // Both candidates print the same; the caller sees one copy.
  if (&batch == terminal_copy_.get() && record_) record_->session->on_tool_stderr(bytes);
}

void StdoutLearner::start_up_stderr(Instance& candidate, std::string_view line) {
  if (&candidate == terminal_.get()) pool_.broadcast_start_up_stderr(line);
}

std::string StdoutLearner::terminal_differs_message() const {
  const std::string& tool = pool_.config().command.argv[0];
  std::string message = "tool '" + tool +
                        "' buffers its output on a pipe and prints differently on a terminal (colour, a banner), "
                        "so viasock can serve it neither way; make it flush on a pipe";
  std::string hint = pool_.flush_hint();
  if (!hint.empty()) message += " (" + hint + ")";
  return message + ", or give --pty if the terminal's output is what you want";
}

}  // namespace viasock
