#include "server/start_up_broadcast.h"

#include "server/session.h"

namespace viasock {
namespace {

// A tool that prints a manual at start gives later calls its beginning only.
constexpr size_t kMaxStartUpStderr = 64 * 1024;

}  // namespace

void StartUpBroadcast::wait_for_prelude(const std::shared_ptr<Session>& session) {
  if (prelude_known_)
    session->on_prelude(prelude_);
  else
    prelude_waiters_.push_back(session);
}

void StartUpBroadcast::set_prelude(const std::string& prelude) {
  if (prelude_known_) return;
  prelude_known_ = true;
  prelude_ = prelude;
  auto waiters = std::move(prelude_waiters_);
  prelude_waiters_.clear();
  for (auto& weak : waiters)
    if (auto session = weak.lock()) session->on_prelude(prelude_);
}

std::shared_ptr<Session> StartUpBroadcast::take_empty_call() {
  for (auto it = prelude_waiters_.begin(); it != prelude_waiters_.end(); ++it) {
    std::shared_ptr<Session> session = it->lock();
    if (!session || !session->open() || !session->input_finished() || session->records_in() > 0) continue;
    prelude_waiters_.erase(it);
    return session;
  }
  return nullptr;
}

std::vector<std::shared_ptr<Session>> StartUpBroadcast::prelude_waiters() const {
  std::vector<std::shared_ptr<Session>> sessions;
  for (const auto& weak : prelude_waiters_)
    if (auto session = weak.lock()) sessions.push_back(std::move(session));
  return sessions;
}

void StartUpBroadcast::listen(const std::shared_ptr<Session>& session) {
  if (!stderr_.empty()) session->on_tool_stderr(stderr_);
  listeners_.push_back(session);
}

void StartUpBroadcast::stderr_line(std::string_view line) {
  if (stderr_.size() + line.size() <= kMaxStartUpStderr) stderr_.append(line);
  for (auto& weak : listeners_)
    if (auto session = weak.lock()) session->on_tool_stderr(line);
}

void StartUpBroadcast::start_up_over() {
  listeners_.clear();
  stderr_.clear();
}

}  // namespace viasock
