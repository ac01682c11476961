#include "server/pool.h"

#include <spdlog/spdlog.h>

#include "server/instance.h"
#include "server/session.h"

namespace viasock {

Pool::Pool(asio::io_context& io, PoolConfig config, FatalHandler on_fatal)
    : io_(io), config_(std::move(config)), on_fatal_(std::move(on_fatal)), stop_timer_(io) {
  output_framer_ = make_framer(config_.output_format);
}

Pool::~Pool() = default;

bool Pool::start(int* status, std::string* error) {
  instances_.resize(static_cast<size_t>(config_.instances));
  for (size_t slot = 0; slot < instances_.size(); ++slot)
    if (!start_instance(slot, status, error)) return false;
  return true;
}

bool Pool::start_instance(size_t slot, int* status, std::string* error) {
  auto instance = std::make_shared<Instance>(io_, *this, static_cast<int>(slot));
  instances_[slot] = instance;
  return instance->start(status, error);
}

void Pool::offer(std::shared_ptr<Session> session) {
  if (!session->queued) {
    session->queued = true;
    ready_.push_back(session);
  }
  kick();
}

std::shared_ptr<Batch> Pool::take_work(size_t max_bytes, size_t max_records, std::string* bytes) {
  while (!ready_.empty()) {
    std::shared_ptr<Session> session = std::move(ready_.front());
    ready_.pop_front();
    session->queued = false;
    if (!session->has_ready_input()) continue;
    auto batch = session->take_batch(max_bytes, max_records, bytes);
    // To the back of the queue: the next batch goes to another client first.
    if (session->has_ready_input()) {
      session->queued = true;
      ready_.push_back(session);
    }
    return batch;
  }
  return nullptr;
}

void Pool::kick() {
  for (size_t slot = 0; slot < instances_.size(); ++slot) {
    // Copied: pumping may replace the slot's instance.
    std::shared_ptr<Instance> instance = instances_[slot];
    if (instance) instance->pump();
  }
}

void Pool::wait_for_prelude(std::shared_ptr<Session> session) {
  if (prelude_known_)
    session->on_prelude(prelude_);
  else
    prelude_waiters_.push_back(session);
}

void Pool::set_prelude(const std::string& prelude) {
  if (prelude_known_) return;  // every instance prints it; clients get the first
  prelude_known_ = true;
  prelude_ = prelude;
  auto waiters = std::move(prelude_waiters_);
  prelude_waiters_.clear();
  for (auto& session : waiters) session->on_prelude(prelude_);
}

void Pool::instance_exited(Instance* instance, bool answered, bool killed_by_us, int status,
                           const std::string& message) {
  if (forget_retired(instance)) return;
  if (stopping_) return check_stopped();
  if (!answered && !killed_by_us) {
    // It never worked: restarting would only fail again, in a loop.
    spdlog::error("the tool failed before answering anything: {}", message);
    return on_fatal_(status, message);
  }
  for (size_t slot = 0; slot < instances_.size(); ++slot) {
    if (instances_[slot].get() != instance) continue;
    int start_status = 0;
    std::string error;
    spdlog::info("instance {}: starting a new tool process", slot);
    if (!start_instance(slot, &start_status, &error)) return on_fatal_(start_status, error);
  }
}

void Pool::reap() {
  for (size_t slot = 0; slot < instances_.size(); ++slot) {
    std::shared_ptr<Instance> instance = instances_[slot];
    if (instance) instance->reap();
  }
  for (auto& instance : std::vector(retired_)) instance->reap();
}

void Pool::stop(std::function<void()> done) {
  stopping_ = true;
  on_stopped_ = std::move(done);
  for (auto& instance : instances_)
    if (instance) instance->close_input();
  // A tool that does not exit when its stdin closes is killed.
  stop_timer_.expires_after(std::chrono::seconds(5));
  stop_timer_.async_wait([this](const boost::system::error_code& error) {
    if (error) return;
    for (auto& instance : instances_)
      if (instance && !instance->finished()) instance->kill();
  });
  check_stopped();
}

void Pool::check_stopped() {
  for (auto& instance : instances_)
    if (instance && !instance->finished()) return;
  stop_timer_.cancel();
  if (on_stopped_) std::exchange(on_stopped_, nullptr)();
}

// replaced by the learning code
bool Pool::ready() const {
  for (const auto& instance : instances_)
    if (!instance) return false;
  return !instances_.empty();
}

void Pool::restart() {
  if (stopping_) return;
  for (size_t slot = 0; slot < instances_.size(); ++slot) {
    std::shared_ptr<Instance> old = instances_[slot];
    int status = 0;
    std::string error;
    if (!start_instance(slot, &status, &error)) {
      // Keep the old one serving rather than fail anything.
      spdlog::warn("restart: instance {} could not be replaced: {}", slot, error);
      instances_[slot] = old;
      continue;
    }
    if (old) {
      retired_.push_back(old);
      old->retire();
    }
  }
  kick();
}

// A retired instance has exited: nothing to replace, nobody to blame.
bool Pool::forget_retired(Instance* instance) {
  for (auto it = retired_.begin(); it != retired_.end(); ++it) {
    if (it->get() != instance) continue;
    retired_.erase(it);
    if (stopping_) check_stopped();
    return true;
  }
  return false;
}

}  // namespace viasock
