#include "server/clock.h"

#include <time.h>

#include <cassert>

#include "server/scheduler.h"

namespace viasock {
namespace {

// The manual clock's reading while a ManualClock exists. Touched only on
// the event loop's thread (the daemon never makes one).
bool manual = false;
DaemonClock::time_point manual_now;
double manual_cpu = 0;

}  // namespace

DaemonClock::time_point DaemonClock::now() noexcept {
  if (manual) return manual_now;
  return time_point(std::chrono::steady_clock::now().time_since_epoch());
}

double DaemonClock::process_cpu_seconds() noexcept {
  return manual ? manual_cpu : sched::clock_seconds(CLOCK_PROCESS_CPUTIME_ID);
}

DaemonClock::duration DaemonWaitTraits::to_wait_duration(const DaemonClock::duration& d) {
  return manual ? DaemonClock::duration::zero() : d;
}

DaemonClock::duration DaemonWaitTraits::to_wait_duration(const DaemonClock::time_point& t) {
  return to_wait_duration(t - DaemonClock::now());
}

ManualClock::ManualClock() {
  assert(!manual);
  manual = true;
  // Far from zero, as a steady clock's reading is: code that subtracts
  // a delay from "now" must not go below the epoch.
  manual_now = DaemonClock::time_point(std::chrono::hours(1000));
  manual_cpu = 0;
}

ManualClock::~ManualClock() { manual = false; }

void ManualClock::advance(DaemonClock::duration by) { manual_now += by; }

void ManualClock::set_process_cpu(double seconds) { manual_cpu = seconds; }

}  // namespace viasock
