#include "server/pool.h"

#include <spdlog/spdlog.h>

#include "server/instance.h"
#include "server/session.h"

namespace viasock {

Pool::Pool(asio::io_context& io, PoolConfig config, FatalHandler on_fatal)
    : io_(io), config_(std::move(config)), on_fatal_(std::move(on_fatal)), stop_timer_(io), tick_timer_(io) {
  output_framer_ = make_framer(config_.output_format);
  max_instances_ = config_.instances;
}

Pool::~Pool() = default;

bool Pool::start(int* status, std::string* error) {
  for (int i = 0; i < min_instances(); ++i)
    if (!add_instance(sched::Role::kActive, status, error)) return false;
  return true;
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
  // Copied: pumping may add or remove instances.
  auto instances = instances_;
  for (auto& instance : instances) instance->pump();
  if (!ready_.empty()) arm_tick();
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
  if (stopping_) return check_stopped();
  if (instance->schedule().role() == sched::Role::kRetiring) {
    // Retired or recycled: it finished its work and exited as asked.
    spdlog::info("instance {} retired", instance->index());
    return remove_instance(instance);
  }
  if (!answered && !killed_by_us) {
    // It never worked: restarting would only fail again, in a loop.
    spdlog::error("the tool failed before answering anything: {}", message);
    return on_fatal_(status, message);
  }
  remove_instance(instance);
  if (promote_spare()) return;
  int start_status = 0;
  std::string error;
  spdlog::info("instance {} is gone: starting a new tool process", instance->index());
  if (!add_instance(sched::Role::kActive, &start_status, &error)) return on_fatal_(start_status, error);
}

void Pool::reap() {
  auto instances = instances_;  // reaping may remove or add instances
  for (auto& instance : instances) instance->reap();
}

void Pool::stop(std::function<void()> done) {
  stopping_ = true;
  tick_timer_.cancel();
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

}  // namespace viasock
