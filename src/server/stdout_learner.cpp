#include "server/stdout_learner.h"

#include <spdlog/spdlog.h>

#include "common/exit_codes.h"
#include "server/instance.h"
#include "server/pool.h"
#include "server/session.h"

namespace viasock {
namespace {

// What a pipe's direct run printed is kept up to this size to be compared
// with the terminal candidate's prelude and first answer.
constexpr size_t kMaxCompared = 64 << 20;

// An answer may come from a tool that buffers on a pipe: glibc writes a
// buffer that filled up (4 KiB on a pipe) and whole blocks of what does
// not fit; Python, Java and Rust write anything larger than their 8 KiB
// buffer straight through. So an answer of a whole number of 512-byte
// blocks, or of 8 KiB or more, proves no flushing, and such a tool is
// learned the safe way (a direct run first).
constexpr size_t kWriteThrough = 8 << 10;

bool may_be_buffered(const std::string& answer) {
  return !answer.empty() && (answer.size() % 512 == 0 || answer.size() >= kWriteThrough);
}

}  // namespace

StdoutLearner::StdoutLearner(asio::io_context& io, Pool& pool) : io_(io), pool_(pool) {}

bool StdoutLearner::start(int* status, std::string* error) {
  StdoutKind kind = pool_.framing_given() ? pool_.config().stdout_kind : StdoutKind::kPipe;
  spdlog::info("learning the tool: one instance, its stdout a {}", kind == StdoutKind::kPipe ? "pipe" : "terminal");
  pipe_ = std::make_shared<Instance>(io_, pool_, 0, kind, Instance::Role::kCandidate);
  return pipe_->start(status, error);
}

bool StdoutLearner::owns(const Instance* instance) const {
  return instance && (instance == pipe_.get() || instance == terminal_.get());
}

void StdoutLearner::kill() {
  if (pipe_ && !pipe_->finished()) pipe_->kill();
  if (terminal_ && !terminal_->finished()) terminal_->kill();
}

bool StdoutLearner::finished() const { return (!pipe_ || pipe_->finished()) && (!terminal_ || terminal_->finished()); }

void StdoutLearner::reap() {
  if (pipe_) pipe_->reap();
  if (terminal_) terminal_->reap();
}

void StdoutLearner::close() {
  if (pipe_) pipe_->close_input();
  if (terminal_) terminal_->close_input();
}

void StdoutLearner::candidate_ready(Instance& candidate, const std::string& prelude) {
  if (&candidate == pipe_.get() && stage_ == Stage::kStarting) {
    pipe_ready_ = true;
    pipe_prelude_ = prelude;
    return pump();
  }
  if (&candidate == terminal_.get() && stage_ == Stage::kTerminalStarting) {
    terminal_prelude_ = prelude;
    stage_ = Stage::kTerminalAnswer;
    copy_ = copy_of_record();
    terminal_->feed(copy_, record_bytes_);
  }
}

void StdoutLearner::pump() {
  // A direct run takes its call's records as they come (and closes the
  // tool's input at the end of them): the pool's kick reaches it here.
  if (stage_ == Stage::kDirectRun || stage_ == Stage::kEmptyCall) return pipe_->pump();
  if (stage_ != Stage::kStarting || !pipe_ready_) return;
  if (std::shared_ptr<Session> empty = pool_.take_empty_call()) {
    spdlog::info("a call without records while learning: serving it as a direct run");
    stage_ = Stage::kEmptyCall;
    empty->on_prelude(pipe_prelude_);
    return pipe_->serve_directly(empty, nullptr);
  }
  std::string bytes;
  record_ = pool_.take_work(SIZE_MAX, 1, &bytes);
  if (!record_) return;
  stage_ = Stage::kFirstRecord;
  first_call_ = record_->session;
  record_bytes_ = std::make_shared<const std::string>(std::move(bytes));
  record_timeout_ = record_->timeout;
  copy_ = copy_of_record();
  pipe_->feed(copy_, record_bytes_);
}

void StdoutLearner::on_batch_answered(Batch& batch) {
  if (&batch != copy_.get()) return;
  // Moved out: the learner keeps fingerprints, not answers.
  std::string answer = std::exchange(batch.answers, {});
  copy_.reset();
  switch (stage_) {
    case Stage::kFirstRecord: return on_first_answer(std::move(answer));
    case Stage::kTerminalAnswer: return on_terminal_answer(std::move(answer));
    case Stage::kProbing:
    case Stage::kTerminalProbe: return on_probe_answer(answer);
    default: return;
  }
}

void StdoutLearner::on_first_answer(std::string answer) {
  if (answer.empty() || may_be_buffered(answer)) return serve_first_call_directly(std::move(answer));
  spdlog::info("the tool answers on a pipe: serving through pipes");
  first_answer_ = fingerprint(answer);
  stage_ = Stage::kFirstCall;
  // No call succeeds until the state probe is answered (call_over()).
  pool_.hold_successes();
  pool_.set_prelude(pipe_prelude_);
  auto record = std::exchange(record_, nullptr);
  std::shared_ptr<Session> session = record->session.lock();
  // Learned from before it goes out: passing it on moves it.
  pool_.learn_answer(answer);
  record->answers = std::move(answer);
  record->records = 0;
  pool_.count_answers(1);
  // The call may be gone (its client vanished): the candidate still serves.
  if (session) session->on_answers();
  pool_.adopt(pipe_, session);
  // Gone before its first answer, it never comes to its end: the probe
  // need not wait for it.
  if (!session) call_over(nullptr);
}

void StdoutLearner::serve_first_call_directly(std::string printed) {
  spdlog::info(
      "the tool did not answer its first record on a pipe: serving that call as a direct run, "
      "then learning it on a terminal");
  stage_ = Stage::kDirectRun;
  auto record = std::exchange(record_, nullptr);
  std::shared_ptr<Session> session = record->session.lock();
  if (session) session->on_prelude(pipe_prelude_);
  pipe_->keep_direct_prefix(pipe_prelude_ + printed, kMaxCompared);
  record->answers = std::move(printed);
  pipe_->serve_directly(session, std::move(record));
}

// Where framing was given, the tool's stdout is what the user chose: a
// tool that did not answer its first record there is served the way that
// is always right, each call as a direct run on an instance of its own. So
// is a tool whose terminal answer to a long first record proves nothing.
void StdoutLearner::serve_each_call_directly(const char* why) {
  spdlog::warn("{}: every call gets an instance of its own, served as a direct run", why);
  stage_ = Stage::kDone;
  record_bytes_.reset();
  pipe_output_.clear();
  pool_.set_stateful(true);
  pool_.start_missing_instances();
}

void StdoutLearner::start_terminal() {
  stage_ = Stage::kTerminalStarting;
  terminal_ = std::make_shared<Instance>(io_, pool_, 1, StdoutKind::kTerminal, Instance::Role::kCandidate);
  int status = 0;
  std::string error;
  if (!terminal_->start(&status, &error)) {
    stage_ = Stage::kDone;
    pool_.cannot_serve(status, error);
  }
}

// The terminal candidate must print first what the pipe printed first: else
// the tool prints differently on a terminal, and serving it there would
// give other bytes than a direct run.
void StdoutLearner::on_terminal_answer(std::string answer) {
  std::string expected = terminal_prelude_ + answer;
  std::string pipe_output = std::exchange(pipe_output_, {});
  std::string message;
  if (answer.empty()) {
    std::string record = record_bytes_ ? record_text(1, *record_bytes_, "its first call") : "";
    message = no_answer_message(pool_.tool_facts(), 1, true, record);
  } else if (!pipe_output_complete_ && pipe_output.size() < expected.size()) {
    message = "tool '" + pool_.config().command.name +
              "' answered its first record with more than viasock compares; give -L or --pty";
  } else if (!std::string_view(pipe_output).starts_with(expected)) {
    spdlog::error("pipe output ({} bytes) differs from terminal output ({} bytes)", pipe_output.size(),
                  expected.size());
    message = terminal_differs_message(pool_.tool_facts());
  }
  if (message.empty() && may_be_buffered(answer)) {
    // As on the pipe: an answer this long may have gone through a buffer
    // that keeps shorter ones.
    terminal_->kill();
    return serve_each_call_directly("the tool's answer to its first record is too long to show whether it flushes");
  }
  if (!message.empty()) {
    stage_ = Stage::kDone;
    terminal_->kill();
    spdlog::error("{}", message);
    return pool_.cannot_serve(kExitToolQuit, message);
  }
  spdlog::info("the tool prints the same on a pipe and a terminal: serving through a terminal");
  first_answer_ = fingerprint(answer);
  pool_.learn_answer(answer);
  stage_ = Stage::kTerminalProbe;
  probe(terminal_);
}

void StdoutLearner::candidate_exited(Instance* candidate, bool expected, int status, const std::string& message) {
  if (candidate == pipe_.get()) {
    switch (stage_) {
      case Stage::kEmptyCall: {
        // That call is over; learning starts again on a new candidate.
        stage_ = Stage::kStarting;
        pipe_ready_ = false;
        int start_status = 0;
        std::string error;
        if (!start(&start_status, &error)) {
          stage_ = Stage::kDone;
          pool_.cannot_serve(start_status, error);
        }
        return;
      }
      case Stage::kDirectRun:
        // The first call ended with the tool's own status (Instance::finish_direct).
        pipe_output_ = pipe_->release_direct_prefix(&pipe_output_complete_);
        if (pool_.framing_given())
          return serve_each_call_directly("the tool did not answer its first record with the options given");
        return start_terminal();
      case Stage::kClosing: return finish_closing(pipe_->release_late_output());
      case Stage::kFirstCall:
      case Stage::kProbing:
        // Killed for an answer over the call's --max-answer: that call
        // failed, which says nothing about the tool; learning starts again.
        if (candidate->killed_over_max_answer()) {
          stage_ = Stage::kDone;
          return pool_.learn_again();
        }
        // It died serving the first call (that call failed with it): whether
        // the tool keeps state is unknown, so every call gets an instance of
        // its own, which is always right.
        spdlog::warn("the tool died before viasock knew whether it keeps state: every call gets its own instance");
        stage_ = Stage::kDone;
        record_bytes_.reset();
        pool_.set_stateful(true);
        return pool_.release_successes();
      case Stage::kStarting:
        if (expected) return;
        if (pipe_->exit_status() >= 0) {
          // It exited on its own before it read any input (a usage text, a
          // missing model): a direct run would print the same and end the
          // same whatever its input, so every call gets that. With status
          // 0 that is all a direct run shows (`echo hi`): no message.
          stage_ = Stage::kDone;
          int code = pipe_->exit_status();
          std::string tail = message.substr(without_stderr_tail(message).size());
          spdlog::warn("{}", quit_at_start_message(pool_.tool_facts(), code));
          return pool_.cannot_serve(code, code == 0 ? "" : quit_at_start_message(pool_.tool_facts(), code) + tail,
                                    pipe_->release_unrouted_output());
        }
        [[fallthrough]];
      case Stage::kFirstRecord:
        if (expected) return;
        // At start-up the tool cannot run; on a record, that record killed
        // it (its caller failed in on_batch_failed), and learning starts
        // again with a new candidate.
        stage_ = Stage::kDone;
        return pool_.learning_failed(status, message, copy_ != nullptr);
      default: return;
    }
  }
  if (candidate == terminal_.get() && stage_ != Stage::kDone) {
    // It ran on a pipe (its first call, a direct run there) but exited or
    // closed its output on a terminal before it answered: a direct run per
    // call is what is left, and always right.
    spdlog::warn("on a terminal, {}", message);
    serve_each_call_directly("the tool does not run on a terminal as it does on a pipe");
  }
}

// The tool exited on the first record: for that call it was a direct run
// (a tool that stops early leaves the rest of its input unread), so the call
// gets what it printed and its status. Killed by a signal, it says so.
void StdoutLearner::on_batch_failed(Batch& batch, int status, const std::string& message) {
  if (&batch != copy_.get() || stage_ != Stage::kFirstRecord || !record_) return;
  auto record = std::exchange(record_, nullptr);
  std::shared_ptr<Session> session = record->session.lock();
  record->answers = pipe_->release_unrouted_output();
  if (!session) return;
  session->on_prelude(pipe_prelude_);
  // Done, but not passed on before the status: a call whose batches are
  // all done would succeed at once.
  record->records = 0;
  // Its own status (`status` counts an exit with 0 as a tool that quit
  // while records waited); killed by a signal, it says so.
  int code = pipe_->exit_status();
  session->end_direct_run(code >= 0 ? code : status, code >= 0 ? "" : message);
}

void StdoutLearner::on_batch_stderr(Batch& batch, std::string_view bytes) {
  // The first record's warnings are its caller's; a repeated record's are
  // only logged.
  if (&batch != copy_.get() || stage_ != Stage::kFirstRecord || !record_) return;
  if (auto session = record_->session.lock()) session->on_tool_stderr(bytes);
}

void StdoutLearner::start_up_stderr(Instance& candidate, std::string_view line) {
  // Callers waiting for the tool hear its first start; the terminal
  // candidate says the same again, to the log only.
  if (&candidate == pipe_.get()) pool_.broadcast_start_up_stderr(line);
}

void StdoutLearner::read_held_output() {
  if (pipe_) pipe_->read_held_output();
  if (terminal_) terminal_->read_held_output();
}

}  // namespace viasock
