#include "server/work_queue.h"

#include <algorithm>

#include "server/session.h"

namespace viasock {

void WorkQueue::push(const std::shared_ptr<Session>& session) {
  line_.push_back(session);
  in_line_.insert(session);
}

void WorkQueue::offer(const std::shared_ptr<Session>& session) {
  if (!in_line_.count(session)) push(session);
}

std::shared_ptr<Batch> WorkQueue::take(size_t max_bytes, size_t max_records, std::string* bytes,
                                       const std::function<bool(Session&)>& admit) {
  for (size_t left = line_.size(); left > 0 && !line_.empty(); --left) {
    Handle handle = std::move(line_.front());
    line_.pop_front();
    in_line_.erase(handle);
    std::shared_ptr<Session> session = handle.lock();
    if (!session || !session->has_ready_input()) continue;
    if (admit && !admit(*session)) {
      push(session);
      continue;
    }
    auto batch = session->take_batch(max_bytes, max_records, bytes);
    // To the back of the line: the next batch goes to another call first.
    if (session->has_ready_input()) push(session);
    return batch;
  }
  return nullptr;
}

std::vector<std::shared_ptr<Session>> WorkQueue::waiting() const {
  std::vector<std::shared_ptr<Session>> sessions;
  for (const Handle& handle : line_)
    if (auto session = handle.lock()) sessions.push_back(std::move(session));
  return sessions;
}

bool WorkQueue::others_waiting(const Session* session) const {
  return std::any_of(line_.begin(), line_.end(), [session](const Handle& handle) {
    auto other = handle.lock();
    return other && other.get() != session && other->has_ready_input();
  });
}

std::shared_ptr<Session> WorkQueue::claim() {
  forget_gone();
  for (const Handle& handle : line_) {
    std::shared_ptr<Session> session = handle.lock();
    if (!session || claimed_.count(handle) || !session->has_ready_input()) continue;
    claimed_.insert(handle);
    return session;
  }
  return nullptr;
}

void WorkQueue::claim(const std::shared_ptr<Session>& session) {
  forget_gone();
  claimed_.insert(session);
}

bool WorkQueue::claimed(const std::shared_ptr<Session>& session) const { return claimed_.count(session) > 0; }

// Claims of calls that are gone would only grow the set.
void WorkQueue::forget_gone() {
  for (auto it = claimed_.begin(); it != claimed_.end();) it = it->expired() ? claimed_.erase(it) : std::next(it);
}

std::shared_ptr<Batch> WorkQueue::take_retry() {
  while (!retries_.empty()) {
    std::shared_ptr<Batch> batch = std::move(retries_.front());
    retries_.pop_front();
    if (auto session = batch->session.lock(); session && session->open()) return batch;
  }
  return nullptr;
}

}  // namespace viasock
