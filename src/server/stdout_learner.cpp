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
  verify_terminal(terminal_prelude_, "");
}

void StdoutLearner::pump() {
  if (stage_ != Stage::kComparing || record_) return;
  std::string bytes;
  record_ = pool_.take_work(SIZE_MAX, 1, &bytes);
  if (!record_) return;
  record_bytes_ = bytes;
  pipe_copy_ = copy_of(*record_, shared_from_this());
  terminal_copy_ = copy_of(*record_, shared_from_this());
  answers_pending_ = 2;
  pipe_->feed(pipe_copy_, bytes);
  terminal_->feed(terminal_copy_, std::move(bytes));
}

void StdoutLearner::on_batch_answered(Batch& batch) {
  if (&batch == repeat_copy_.get()) {
    // The pipe candidate being verified answers at its exit instead.
    if (!repeater_) return;
    pool_.set_stateful(batch.answers != first_answer_);
    repeater_->retire();
    return;
  }
  if (answers_pending_ > 0 && --answers_pending_ == 0) decide();
}

void StdoutLearner::decide() {
  const std::string& pipe_answer = pipe_copy_->answers;
  const std::string& terminal_answer = terminal_copy_->answers;
  if (!pipe_answer.empty()) {
    spdlog::info("the tool answers on a pipe: serving through pipes");
    choose(pipe_, pipe_prelude_);
    stage_ = Stage::kDone;
    probe_state(terminal_, terminal_answer);
    return answer_record(pipe_answer);
  }
  if (!terminal_answer.empty()) {
    spdlog::info("the tool answers on a terminal only: checking its output against a pipe's");
    choose(terminal_, terminal_prelude_);
    // The stage changes before the answer goes out: passing it on may pull
    // the next record, which must go to the chosen instance alone.
    verify_terminal(terminal_prelude_ + terminal_answer, terminal_answer);
    return answer_record(terminal_answer);
  }
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
    return loser->retire();
  }
  repeater_ = loser;
  first_answer_ = first_answer;
  repeat_copy_ = copy_of(*record_, shared_from_this());
  loser->feed(repeat_copy_, record_bytes_);
}

void StdoutLearner::answer_record(const std::string& answer) {
  auto record = std::exchange(record_, nullptr);
  record->answers = answer;
  record->records = 0;
  pool_.count_answers(1);
  record->session->on_answers();
  pool_.learn_answer(answer);
}

// Closing the pipe candidate's stdin makes it print what it buffered and
// exit; candidate_exited() compares.
void StdoutLearner::verify_terminal(const std::string& expected, const std::string& repeat_answer) {
  stage_ = Stage::kVerifying;
  expected_ = expected;
  first_answer_ = repeat_answer;
  pool_.hold_successes();
  if (!repeat_answer.empty()) {
    repeat_copy_ = copy_of(*record_, shared_from_this());
    pipe_->feed(repeat_copy_, record_bytes_);
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
    // record's answer, all at once when its input closed.
    std::string actual = pipe_prelude_ + pipe_->late_output();
    if (actual.starts_with(expected_)) {
      pool_.set_stateful(!first_answer_.empty() && actual.substr(expected_.size()) != first_answer_);
      return on_verified();
    }
    spdlog::error("pipe output ({} bytes) differs from terminal output ({} bytes)", actual.size(), expected_.size());
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
