// Segments (instance.h): one caller's records at a time, and a settle
// between two callers, at a moment the tool waits for input with everything
// it printed read. All the tool printed within a segment is that caller's,
// so a tool answering 0, 1 or 5 lines for a record gives every caller its
// direct run's bytes; where framing was given, output that does not fit it
// fails the caller loudly.
//
// One caller's batches may go to several instances at once (-j). The batch
// an instance took last may then still get output after the caller's next
// batch went elsewhere; so a segment only takes the caller's next batch,
// never a later one (continues_segment), and a batch another instance
// follows waits for its own instance to settle (Batch::Segment::kHeld).
#include <spdlog/spdlog.h>

#include "common/exit_codes.h"
#include "server/clock.h"
#include "server/instance.h"
#include "server/pool.h"
#include "server/session.h"

namespace viasock {
namespace {

// Batches a caller may send in one segment while others wait: a long
// stream then takes turns with them (each turn costs one settle).
constexpr int kSegmentTurn = 8;

}  // namespace

bool Instance::in_segments() const { return role_ == Role::kServing && !pool_.lock_step(); }

void Instance::open_segment(const std::shared_ptr<Session>& owner) {
  segment_ = owner;
  segment_last_.reset();
  segment_batches_ = 0;
  owner->segment_opened();
}

// The batch before it on this instance is followed by this one in the
// caller's order: whatever comes late for it still lands in order.
void Instance::took_in_segment(const std::shared_ptr<Batch>& batch) {
  std::shared_ptr<Batch> previous = segment_last_.lock();
  if (previous && previous->segment == Batch::Segment::kOpen) previous->segment = Batch::Segment::kNone;
  batch->segment = Batch::Segment::kOpen;
  segment_last_ = batch;
}

bool Instance::continues_segment(const Session& owner) const {
  std::shared_ptr<Batch> last = owner.last_taken();
  return last && last == segment_last_.lock();
}

bool Instance::shares_caller() const {
  std::shared_ptr<Session> owner = segment_.lock();
  return owner && owner->segments_open() > 1;
}

// The caller of the segment has nothing more for now and its input ended,
// or others wait (at once when it has nothing, after its turn otherwise),
// or another instance took (or waits to take) the caller's next batch.
bool Instance::segment_should_settle() {
  std::shared_ptr<Session> owner = segment_.lock();
  if (!owner) return false;
  if (!owner->open() || !continues_segment(*owner) || owner->settle_wanted()) return true;
  if (owner->has_ready_input()) return segment_batches_ > kSegmentTurn && pool_.others_waiting(owner.get());
  return owner->input_finished() || pool_.others_waiting(owner.get());
}

void Instance::settle_segment() {
  if (writing_ || settling_ || finished()) return;
  // Records in flight: the watch starts once the framer saw them answered
  // (pump() comes here again), unless the stuck watch, which runs while
  // they are in flight, sees the tool wait without answering them first
  // (on_stuck_check). Looking earlier would only find the tool busy.
  if (!in_flight_.empty()) return;
  // The start-up watch (records may go in before it ends where framing
  // was given) tells ready() first, then pumps.
  if (!loaded_ && quiet_.active()) return;
  settling_ = true;
  quiet_.cancel();
  quiet_.start(observer(), puller(), stdout_kind_ == StdoutKind::kTerminal,
               [weak = weak_from_this()](ToolActivity activity) {
                 if (auto self = weak.lock()) self->on_segment_quiet(activity);
               });
}

// Everything the tool printed since the segment began and not yet passed
// on is its caller's; answers the framer still expects are not coming.
void Instance::on_segment_quiet(ToolActivity activity) {
  settling_ = false;
  // A tool that is gone settles when its exit is handled (finish()).
  if (finished() || activity == ToolActivity::kGone) return;
  drain_stderr();
  std::shared_ptr<Session> owner = segment_.lock();
  segment_.reset();
  size_t unanswered = 0;
  std::string first_unanswered;
  for (auto& batch : in_flight_) {
    if (batch->records > 0 && first_unanswered.empty())
      first_unanswered = record_text(*batch, batch->record_count - batch->records);
    unanswered += std::exchange(batch->records, 0);
  }
  std::string rest = out_.take(out_.size(), kKeepBuffer);
  out_resume_ = 0;
  in_flight_.clear();
  in_flight_bytes_ = 0;
  schedule_.on_idle(DaemonClock::seconds());
  if (activity == ToolActivity::kUnobservable) {
    if (owner) owner->fail(kExitToolQuit, unobservable_message(pool_.tool_facts()));
  } else if (!rest.empty() || unanswered > 0) {
    if (pool_.framing_given()) {
      framing_broken(owner, rest.size(), unanswered, first_unanswered);
    } else {
      if (owner && owner->open()) segment_tail(owner)->answers += rest;
      pool_.answers_vary();
    }
  }
  end_segment_hold();
  bool wanted = owner && owner->settle_wanted();
  if (owner) owner->segment_settled();
  // Another instance waited for this settle to take the caller's records.
  if (wanted) return pool_.kick();
  pump();
}

// Where what the tool prints late for the segment goes: its last batch,
// unless that was passed on already. Then no batch of the caller's came
// after it (Pool::take_work), and a new one follows it.
std::shared_ptr<Batch> Instance::segment_tail(const std::shared_ptr<Session>& owner) {
  std::shared_ptr<Batch> last = segment_last_.lock();
  if (last && !last->passed_on && last->session.lock() == owner) return last;
  last = owner->open_batch();
  last->records = 0;
  if (segment_.lock() == owner) took_in_segment(last);
  return last;
}

// The segment is over: its last batch waits for nothing more.
void Instance::end_segment_hold() {
  if (std::shared_ptr<Batch> last = std::exchange(segment_last_, {}).lock()) last->segment = Batch::Segment::kNone;
}

// Output beyond the answers the framer expected: the segment's caller's.
// So is the output of the call a tool is being learned on, which has the
// instance to itself.
bool Instance::give_to_segment(size_t bytes) {
  std::shared_ptr<Session> owner = segment_.lock();
  if (!owner && pool_.exclusive()) owner = owner_.lock();
  if (!owner) return false;
  if (pool_.framing_given()) {
    if (owner->open()) framing_broken(owner, bytes, 0);
    return true;
  }
  if (owner->open()) {
    segment_tail(owner)->answers.append(out_.data() + out_.size() - bytes, bytes);
    owner->on_answers();
  }
  pool_.answers_vary();
  return true;
}

// The framing given (--pipe, -T, -0) is the user's word for how the tool
// answers; a tool that answers otherwise leaves the caller's answers in
// doubt: a loud failure rather than bytes cut at the wrong places.
void Instance::framing_broken(const std::shared_ptr<Session>& owner, size_t extra_bytes, size_t unanswered,
                              const std::string& first_unanswered) {
  std::string message = framing_broken_message(pool_.tool_facts(), extra_bytes, unanswered, first_unanswered);
  spdlog::error("instance {}: {}: {}", index_, owner ? owner->log_name() : "a call that is gone", message);
  if (owner) owner->fail(kExitToolQuit, message);
}

}  // namespace viasock
