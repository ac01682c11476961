// Segments (instance.h): one caller's records at a time where the framing
// of answers was learned, and a settle between two callers, at a moment the
// tool waits for input with everything it printed read. All the tool
// printed within a segment is that caller's, so a tool answering 0, 1 or 5
// lines for a record gives every caller its direct run's bytes.
#include <spdlog/spdlog.h>

#include "server/instance.h"
#include "server/pool.h"
#include "server/session.h"

namespace viasock {
namespace {

// Batches a caller may send in one segment while others wait: a long
// stream then takes turns with them (each turn costs one settle).
constexpr int kSegmentTurn = 8;

}  // namespace

bool Instance::in_segments() const {
  return role_ == Role::kServing && pool_.learns() && !pool_.lock_step();
}

void Instance::open_segment(const std::shared_ptr<Session>& owner) {
  segment_ = owner;
  segment_batches_ = 0;
  owner->segment_opened();
}

// The caller of the segment has nothing more for now and its input ended,
// or others wait (at once when it has nothing, after its turn otherwise).
bool Instance::segment_should_settle() {
  std::shared_ptr<Session> owner = segment_.lock();
  if (!owner) return false;
  if (!owner->open()) return true;
  if (owner->has_ready_input()) return segment_batches_ > kSegmentTurn && pool_.others_waiting(owner.get());
  return owner->input_finished() || pool_.others_waiting(owner.get());
}

void Instance::settle_segment() {
  if (writing_ || settling_ || finished_) return;
  settling_ = true;
  quiet_.cancel();
  quiet_.start(pid(), process_.stdin_inode(), puller(), stdout_kind_ == StdoutKind::kTerminal,
               [weak = weak_from_this()](ToolActivity activity) {
                 if (auto self = weak.lock()) self->on_segment_quiet(activity);
               });
}

// Everything the tool printed since the segment began and not yet passed
// on is its caller's; answers the framer still expects are not coming.
void Instance::on_segment_quiet(ToolActivity activity) {
  settling_ = false;
  if (finished_ || activity != ToolActivity::kWaitingForInput) return;
  drain_stderr();
  std::shared_ptr<Session> owner = segment_.lock();
  segment_.reset();
  bool varied = !out_.empty();
  std::string rest = out_.take(out_.size(), kKeepBuffer);
  out_resume_ = 0;
  for (auto& batch : in_flight_) {
    varied = varied || batch->records > 0;
    batch->records = 0;
  }
  if (!in_flight_.empty()) {
    in_flight_.back()->answers += rest;
  } else if (!rest.empty() && owner && owner->open()) {
    std::shared_ptr<Batch> batch = owner->open_batch();
    batch->answers = std::move(rest);
    batch->records = 0;
  }
  in_flight_.clear();
  in_flight_bytes_ = 0;
  schedule_.on_idle(sched::now_seconds());
  if (varied) pool_.answers_vary();
  if (owner) {
    owner->on_answers();
    owner->segment_settled();
  }
  pump();
}

// Output beyond the answers the framer expected: the segment's caller's.
// So is the output of the call a tool is being learned on, which has the
// instance to itself.
bool Instance::give_to_segment(size_t bytes) {
  std::shared_ptr<Session> owner = segment_.lock();
  if (!owner && pool_.exclusive()) owner = owner_.lock();
  if (!owner) return false;
  if (owner->open()) {
    std::shared_ptr<Batch> batch = owner->open_batch();
    batch->answers.assign(out_.data() + out_.size() - bytes, bytes);
    batch->records = 0;
    owner->on_answers();
  }
  pool_.answers_vary();
  return true;
}

}  // namespace viasock
