// Where framing was given (--pipe, -T, -0), a tool seen waiting for input
// with records unanswered has, by the daemon's rule, answered them with
// nothing: the framing is broken and the calls fail. But an event loop or a
// timer thread may answer a moment later (the tool's main thread is back in
// read(2) while its answer is due from a timer). So that verdict stands only
// when the tool stays silent for a grace after the first such look: a byte
// printed meanwhile starts it over. The grace is one second, or the calls'
// -w when longer: -w is the user's word for how long an answer may take.
//
// Pure logic on a steady clock's seconds (tested without processes);
// Instance feeds it what it observes.
#pragma once

#include <algorithm>
#include <cstdint>

namespace viasock {

class LateAnswerGrace {
 public:
  static constexpr double kDefaultSeconds = 1.0;
  // How often the tool is looked at during the grace.
  static constexpr double kLookSeconds = 0.02;

  // The grace for records whose largest -w is `record_timeout` (0: none).
  static double seconds_for(double record_timeout) { return std::max(kDefaultSeconds, record_timeout); }

  // The tool was seen waiting for input with records unanswered at `now`,
  // having printed `printed` bytes in all. Returns 0 when it stayed silent
  // for `grace` seconds since the first such look, otherwise the seconds
  // until the next look should be made.
  double look(double now, uint64_t printed, double grace) {
    if (!watching_ || printed != printed_) {
      watching_ = true;
      since_ = now;
      printed_ = printed;
    }
    double left = since_ + grace - now;
    return left > 0 ? left : 0;
  }
  // The tool answered, or the records are gone: the next look starts over.
  void reset() { watching_ = false; }

 private:
  bool watching_ = false;
  double since_ = 0;
  uint64_t printed_ = 0;
};

}  // namespace viasock
