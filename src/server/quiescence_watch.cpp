#include "server/quiescence_watch.h"

#include <algorithm>

namespace viasock {
namespace {

constexpr std::chrono::microseconds kFirstInterval(20);
// Between the two observations a terminal needs.
constexpr std::chrono::microseconds kTerminalSettle(1000);

}  // namespace

void QuiescenceWatch::start(Observe observe, Pull pull, bool terminal, Done done, std::chrono::microseconds first_delay,
                            std::chrono::microseconds max_interval) {
  cancel();
  observe_ = std::move(observe);
  pull_ = std::move(pull);
  terminal_ = terminal;
  done_ = std::move(done);
  active_ = true;
  confirmations_ = 0;
  // A watch that waits before its first look (a watchdog) keeps to that
  // pace afterwards rather than start over at tens of microseconds: every
  // look is a wake-up of the daemon.
  interval_ = std::min(std::max(kFirstInterval, first_delay), max_interval);
  max_interval_ = max_interval;
  schedule(first_delay);
}

void QuiescenceWatch::cancel() {
  active_ = false;
  done_ = nullptr;
  pull_ = nullptr;
  observe_ = nullptr;
  timer_.cancel();
}

void QuiescenceWatch::schedule(std::chrono::microseconds delay) {
  timer_.expires_after(delay);
  // A timer that already expired still runs its handler after the watch
  // is destroyed: `alive` tells.
  timer_.async_wait([this, alive = alive_](const boost::system::error_code& error) {
    if (*alive && !error && active_) look();
  });
}

void QuiescenceWatch::look() {
  ToolActivity activity = observe_();
  if (activity == ToolActivity::kWaitingForInput && pull_() > 0) activity = ToolActivity::kBusy;
  if (activity == ToolActivity::kWaitingForInput && terminal_ && ++confirmations_ < 2) return schedule(kTerminalSettle);
  if (activity == ToolActivity::kBusy) {
    confirmations_ = 0;
    schedule(interval_);
    interval_ = std::min(interval_ * 2, max_interval_);
    return;
  }
  active_ = false;
  // The callback may start the watch again.
  Done done = std::move(done_);
  done_ = nullptr;
  pull_ = nullptr;
  observe_ = nullptr;
  done(activity);
}

}  // namespace viasock
