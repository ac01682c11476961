// The daemon's clock. It reads std::chrono::steady_clock, except in the
// unit tests of the core (tests/unit/core_harness.h), which move time by
// hand: timeouts, crash back-off, quiescence polling, pool growth and
// retirement are then decided without a sleep, the same way every run.
//
// Every timer of the core is a viasock::Timer and every reading of the time
// goes through DaemonClock::now(), so nothing the core decides depends on
// the wall clock behind the tests' back.
#pragma once

#include <chrono>

#include "server/asio.h"

namespace viasock {

struct DaemonClock {
  using duration = std::chrono::steady_clock::duration;
  using rep = duration::rep;
  using period = duration::period;
  using time_point = std::chrono::time_point<DaemonClock>;
  static constexpr bool is_steady = true;

  static time_point now() noexcept;
  // Seconds since the clock's epoch, for the scheduler's arithmetic.
  static double seconds() noexcept { return std::chrono::duration<double>(now().time_since_epoch()).count(); }
  // The CPU time the daemon has used, in seconds (what spreading weighs the
  // tool's cost against); on a manual clock, what the test set.
  static double process_cpu_seconds() noexcept;
};

// How long the event loop may sleep for a timer: as the timer says on the
// real clock; not at all on a manual clock, whose time passes only when a
// test says so (the test polls the loop; it never waits in it).
struct DaemonWaitTraits {
  static DaemonClock::duration to_wait_duration(const DaemonClock::duration& d);
  static DaemonClock::duration to_wait_duration(const DaemonClock::time_point& t);
};

using Timer = asio::basic_waitable_timer<DaemonClock, DaemonWaitTraits>;

// Seconds as a duration of the clock, for timers. Capped at ~30 years: a
// huge timeout must not overflow the clock's integer ticks.
inline DaemonClock::duration clock_duration(double seconds) {
  return std::chrono::duration_cast<DaemonClock::duration>(
      std::chrono::duration<double>(seconds < 1e9 ? seconds : 1e9));
}

// A manual clock for tests: while one exists, DaemonClock::now() is its
// time, which only advance() moves. One at a time, on the thread that runs
// the event loop.
class ManualClock {
 public:
  ManualClock();
  ~ManualClock();
  ManualClock(const ManualClock&) = delete;
  ManualClock& operator=(const ManualClock&) = delete;
  void advance(DaemonClock::duration by);
  void set_process_cpu(double seconds);
};

}  // namespace viasock
