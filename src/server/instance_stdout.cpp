// When an instance reads its tool's stdout: as soon as it is readable, or,
// for a fast tool that flushes every answer, after a pause that lets
// several answers gather (see read_stdout).
#include <spdlog/spdlog.h>

#include "server/clock.h"
#include "server/instance.h"
#include "server/pool.h"
#include "server/session.h"

namespace viasock {

// The watch is a member declared after process_: while it can look, the
// process object is there.
QuiescenceWatch::Observe Instance::observer() {
  return [this] { return process_->activity(); };
}

QuiescenceWatch::Pull Instance::puller() {
  // Weak: the watch belongs to this instance and must not keep it alive.
  return [weak = weak_from_this()] {
    auto self = weak.lock();
    return self ? self->pull_stdout() : size_t{0};
  };
}

size_t Instance::pull_stdout() {
  size_t pulled = read_available();
  if (pulled > 0) process_output();
  return pulled;
}

// Reads as soon as stdout is readable, or after a pause while more answers
// of the batch in front are due from a fast tool (sched::answer_pause, see
// "Reading answers" in scheduler.h). The tool's output pipe has room for
// the answers to all it has in flight, about; a tool whose answers outgrow
// it waits for the end of the pause.
void Instance::read_stdout() {
  double pause = answer_pause();
  if (pause <= 0) return wait_readable();
  park_stdout();
  answer_timer_.expires_after(clock_duration(pause));
  answer_timer_.async_wait([self = shared_from_this()](const boost::system::error_code& error) {
    self->unpark_stdout();
    if (!error) self->on_stdout({}, true);
  });
}

void Instance::wait_readable() {
  stdout_.async_wait(asio::posix::descriptor_base::wait_read,
                     [self = shared_from_this()](const boost::system::error_code& error) { self->on_stdout(error); });
}

// Not for a terminal: it buffers a few KiB, and the tool would stop
// writing long before the pause ends.
double Instance::answer_pause() const {
  if (in_flight_.empty() || lock_step() || !loaded_ || stdout_kind_ != StdoutKind::kPipe || role_ != Role::kServing)
    return 0;
  return sched::answer_pause(in_flight_.front()->records, schedule_.costs());
}

// During a pause the descriptor leaves the event loop altogether: Asio keeps
// it registered edge-triggered, and a pipe reports every write as an edge,
// so a registered descriptor would still wake the daemon for each answer,
// only to find no read waiting.
void Instance::park_stdout() { parked_stdout_.reset(stdout_.release()); }

// Should the event loop refuse it back (out of memory), stdout stays
// closed to us: the tool's end is then handled as if it had closed it, and
// its calls in flight fail rather than wait.
void Instance::unpark_stdout() {
  if (!parked_stdout_) return;
  boost::system::error_code error;
  stdout_.assign(parked_stdout_.get(), error);
  if (!error) {
    parked_stdout_.release();
    return;
  }
  spdlog::warn("instance {}: cannot watch the tool's stdout again: {}", index_, error.message());
  parked_stdout_.reset();
}

// `paused`: called at the end of a pause rather than because stdout was
// readable. A pause that found nothing (the tool is slower than measured)
// is not repeated: the next wait is for the descriptor.
void Instance::on_stdout(const boost::system::error_code& error, bool paused) {
  if (finished() || error == asio::error::operation_aborted) return;
  size_t pulled = error ? 0 : read_available();
  if (pulled > 0) {
    quiet_.output_arrived();
    process_output();
  }
  if (error || stdout_closed_) {
    stdout_closed_ = true;
    if (role_ == Role::kCandidate && !stepping_) take_late_output();
    return check_exit();
  }
  // Its caller does not keep up: the tool blocks writing, as in a direct
  // run whose reader is slow, rather than its answers pile up here.
  if (hold_for_caller()) {
    stdout_held_ = true;
    return;
  }
  if (paused && pulled == 0) return wait_readable();
  read_stdout();
}

// Whether the call whose answers come next (the front batch's, or in a
// direct run the call's: its answers go to the newest batch) is
// backlogged; if so it is told, to say when it reads again. Asked again
// when it has read (Pool::read_held_output) and when another call brings
// work (Pool::offer).
bool Instance::hold_for_caller() {
  if (in_flight_.empty()) return false;
  const auto& batch = role_ == Role::kDirect ? in_flight_.back() : in_flight_.front();
  std::shared_ptr<Session> session = batch->session.lock();
  if (!session || !session->holds_back_answers()) return false;
  // A caller that does not read holds up no other: where instances are
  // shared and another call waits for work, the answers are read on and
  // wait in the daemon; that caller gets no more records meanwhile
  // (Session::has_ready_input), which bounds them.
  if (role_ != Role::kDirect && !pool_.exclusive() && pool_.others_waiting(session.get())) return false;
  session->answers_held();
  return true;
}

void Instance::read_held_output() {
  if (!stdout_held_ || finished() || hold_for_caller()) return;
  stdout_held_ = false;
  last_progress_ = DaemonClock::now();  // -w counts from here
  read_stdout();
}

}  // namespace viasock
