// An instance that serves one call as a direct run would (instance.h): a
// buffering tool's first call while the daemon learns it, and every call of
// a tool that keeps state between records. Nothing is framed: whatever the
// tool prints belongs to the call, in the order printed, until it exits.
#include <spdlog/spdlog.h>
#include <sys/wait.h>

#include "common/exit_codes.h"
#include "server/instance.h"
#include "server/pool.h"
#include "server/session.h"

namespace viasock {
namespace {

// The call's input goes to the tool in pieces of at most this size.
constexpr size_t kDirectChunk = 1 << 20;

}  // namespace

void Instance::pump_direct() {
  std::shared_ptr<Session> owner = owner_.lock();
  // A caller that is gone or failed: the tool sees the end of its input.
  if (!owner || !owner->open()) return close_input();
  std::string bytes;
  if (auto batch = owner->take_direct_batch(kDirectChunk, &bytes)) {
    // Output printed so far belongs to the batches written before: they
    // are done, and what comes next goes to this one. Their concatenation
    // is the tool's output in the order it was printed.
    for (auto& older : in_flight_) older->records = 0;
    in_flight_.clear();
    in_flight_.push_back(std::move(batch));
    owner->on_answers();
    return write(std::make_shared<const std::string>(std::move(bytes)), false);
  }
  if (owner->input_finished()) close_input();
}

void Instance::route_direct() {
  if (out_.empty() || in_flight_.empty()) return;
  if (direct_prefix_.size() < direct_prefix_limit_) {
    size_t room = direct_prefix_limit_ - direct_prefix_.size();
    if (out_.size() > room) direct_prefix_complete_ = false;
    direct_prefix_.append(out_.view().substr(0, std::min(room, out_.size())));
  } else if (direct_prefix_limit_ > 0) {
    direct_prefix_complete_ = false;
  }
  Batch& batch = *in_flight_.back();
  batch.answers.append(out_.view());
  out_.clear();
  answered_ = true;
  last_progress_ = DaemonClock::now();
  if (auto session = batch.session.lock()) session->on_answers();
}

int Instance::exit_status() const {
  int wait_status = process_->wait_status();
  return process_->reaped() && WIFEXITED(wait_status) ? WEXITSTATUS(wait_status) : -1;
}

// The tool's exit ends the call with the tool's own status. Only a tool
// killed by a signal gets a message: a shell would have said so too.
void Instance::finish_direct(int status, const std::string& message) {
  route_direct();
  for (auto& batch : in_flight_) batch->records = 0;
  in_flight_.clear();
  in_flight_bytes_ = 0;
  int wait_status = process_->wait_status();
  bool signalled = WIFSIGNALED(wait_status);
  // Exit status 0 is the call's success here, not a tool that quit early.
  if (WIFEXITED(wait_status) && WEXITSTATUS(wait_status) == 0) status = kExitOk;
  if (std::shared_ptr<Session> owner = owner_.lock()) owner->end_direct_run(status, signalled ? message : "");
  pool_.instance_exited(this, true, killed_by_us_, status, message);
}

}  // namespace viasock
