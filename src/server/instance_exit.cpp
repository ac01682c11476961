// How an instance ends: a record timeout (-w), retirement (its stdin closed
// once its batches are answered), a kill, and the tool's exit, which fails
// the records still in flight and tells the pool.
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstdio>

#include "common/exit_codes.h"
#include "server/clock.h"
#include "server/instance.h"
#include "server/lifecycle.h"
#include "server/pool.h"
#include "server/session.h"

namespace viasock {

void Instance::arm_timeout() {
  if (timeout_armed_ || in_flight_.empty()) return;
  double seconds = in_flight_.front()->timeout;
  if (seconds <= 0) return;
  timeout_armed_ = true;
  timeout_timer_.expires_at(last_progress_ + clock_duration(seconds));
  timeout_timer_.async_wait([self = shared_from_this()](const boost::system::error_code& error) {
    self->timeout_armed_ = false;
    if (!error) self->on_timeout();
  });
}

// Checked lazily: answers only move last_progress_, and the timer re-arms
// itself from there, so the hot path never touches the timer.
void Instance::on_timeout() {
  if (finished() || in_flight_.empty() || killed_by_us_) return;
  double seconds = in_flight_.front()->timeout;
  // Left unread for a caller that does not read (hold_for_caller), the
  // tool waits for that caller, not the other way round.
  if (stdout_held_) last_progress_ = DaemonClock::now();
  if (seconds <= 0 || DaemonClock::now() - last_progress_ < std::chrono::duration<double>(seconds))
    return arm_timeout();
  char text[64];
  snprintf(text, sizeof text, "%g", seconds);
  // Which record, where every call it fails is the one that record is of.
  const Batch& front = *in_flight_.front();
  std::shared_ptr<Session> call = front.session.lock();
  bool one_call = call && std::all_of(in_flight_.begin(), in_flight_.end(),
                                      [&](const auto& batch) { return batch->session.lock() == call; });
  std::string record = one_call ? record_text(front, front.record_count - front.records) : "a record";
  std::string message = "tool '" + pool_.config().command.name + "' did not answer " + record + " within " + text +
                        " s (-w); it was killed, and a new instance serves later calls";
  spdlog::warn("instance {}: {}", index_, message);
  fail_in_flight(kExitTimeout, message);
  kill();
}

void Instance::reap() {
  if (process_->try_reap()) check_exit();
}

// The tool is gone once its stdout closed and it was reaped. Either may come
// first; the other gets a bounded wait, and a tool that closed its stdout
// but keeps running is killed.
void Instance::check_exit() {
  if (finished()) return;
  if (stdout_closed_ && !process_->reaped()) process_->try_reap();
  if (stdout_closed_ && process_->reaped()) {
    // Posted, so that stderr already read but not yet handled gets logged
    // and into the message first.
    asio::post(io_, [self = shared_from_this()] { self->finish(); });
    return;
  }
  exit_timer_.expires_after(std::chrono::milliseconds(stdout_closed_ ? 2000 : 1000));
  exit_timer_.async_wait([self = shared_from_this()](const boost::system::error_code& error) {
    if (error || self->finished()) return;
    // A tool that exited may have left output in the pipe: it is its
    // caller's. While that caller does not read (stdout_held_), or while
    // there is more to read, the pipe is not at its end yet; only an
    // empty pipe that does not close (a child of the tool holds it) is
    // taken for closed.
    if (self->process_->reaped() && !self->stdout_closed_ && (self->stdout_held_ || self->pull_stdout() > 0))
      return self->check_exit();
    if (!self->process_->try_reap()) {
      self->process_->kill_group();
      self->killed_by_us_ = true;
      if (self->stdout_closed_) self->kill_reason_ = "closed its output but kept running, and viasock killed it";
    }
    self->stdout_closed_ = true;
    self->check_exit();
  });
}

void Instance::finish() {
  if (finished()) return;
  // Retired (its role says so once retire() was asked, whatever its life
  // is now), or its input closed with everything answered: it was to end.
  bool expected = schedule_.role() == sched::Role::kRetiring || (life_ == InstanceLife::kClosing && in_flight_.empty());
  enter(InstanceLife::kFinished);
  boost::system::error_code ignored;
  timeout_timer_.cancel();
  exit_timer_.cancel();
  answer_timer_.cancel();
  quiet_.cancel();
  drain_stderr();
  stderr_lines_.flush(pid(), [this](std::string_view line) { route_stderr_line(line); });
  stdin_.close(ignored);
  stdout_.close(ignored);
  parked_stdout_.reset();
  stderr_.close(ignored);

  int wait_status = process_->wait_status();

  // A kill of ours is no signal from elsewhere: not 128+9, but the status
  // of a tool that cannot be served as it is.
  int status = kill_reason_ ? static_cast<int>(kExitToolQuit) : exit_code_for_wait_status(wait_status);
  std::string message = "tool '" + pool_.config().command.name + "' " +
                        (kill_reason_ ? std::string(kill_reason_) : describe_wait_status(wait_status));
  message +=
      answered_ || printed_bytes_ > 0 ? " while records were waiting for answers" : " before it printed anything";
  std::string tail = stderr_lines_.tail();
  std::string detail = stderr_tail_detail(tail);
  spdlog::info("instance {}: tool pid {} {}", index_, pid(), describe_wait_status(wait_status));
  if (role_ == Role::kDirect) return finish_direct(status, message + detail);
  // A tool we killed (-w, stuck) has already failed the records concerned.
  fail_in_flight(status, message, !killed_by_us_, detail);
  // A tool that exits on its own while it serves a call ends that call, as
  // its direct run would have ended there, also when none of the call's
  // records was in flight (it exited right after answering the last one
  // sent, and the rest were still to come).
  if (!expected && !killed_by_us_)
    if (std::shared_ptr<Session> owner = segment_.lock(); owner && owner->open() && owner->retries() == 0)
      owner->fail(status, message + detail);
  // A segment whose records were all answered is over with the tool.
  end_segment_hold();
  if (std::shared_ptr<Session> owner = std::exchange(segment_, {}).lock()) {
    owner->segment_settled();
  }
  pool_.instance_exited(this, expected, killed_by_us_, status, message + detail);
}

void Instance::retire() {
  if (life_ < InstanceLife::kRetiring) enter(InstanceLife::kRetiring);
  schedule_.set_role(sched::Role::kRetiring);
  close_input_when_idle();
}

void Instance::close_input_when_idle() {
  if (in_flight_.empty() && !writing_ && life_ < InstanceLife::kClosing) close_input();
}

void Instance::enter(InstanceLife next) { enter_state(&life_, next, "instance " + std::to_string(index_)); }

void Instance::close_input() {
  if (life_ < InstanceLife::kClosing) enter(InstanceLife::kClosing);
  boost::system::error_code ignored;
  stdin_.close(ignored);
}

void Instance::kill() {
  killed_by_us_ = true;
  process_->kill_group();
}

}  // namespace viasock
