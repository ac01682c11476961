// Waits, on the event loop, until a tool instance is quiescent: observed
// waiting for input (quiescence.h) with nothing unread in its stdout. Polls
// /proc with a growing interval (from tens of microseconds, for a warm tool
// that answers at once, to ten milliseconds, for one loading a model), so a
// quick answer is seen quickly and the end of a slow start-up within 10 ms,
// for about 30 microseconds of CPU per look.
//
// Before the tool counts as quiescent, everything it wrote must have been
// read: `pull` reads what is there without blocking. On a terminal the
// kernel passes the tool's output on asynchronously (the flip buffer); a read
// of the master flushes it first, where FIONREAD would not see it. The state
// must also hold for two observations a millisecond apart there.
#pragma once

#include <sys/types.h>

#include <functional>
#include <memory>

#include "server/asio.h"
#include "server/clock.h"
#include "server/quiescence.h"

namespace viasock {

class QuiescenceWatch {
 public:
  using Done = std::function<void(ToolActivity)>;
  // Reads the tool's pending output; returns how many bytes it got.
  using Pull = std::function<size_t()>;
  // Looks at the tool (ToolProcess::activity).
  using Observe = std::function<ToolActivity()>;

  explicit QuiescenceWatch(asio::io_context& io) : timer_(io) {}
  // A look already due when the owner goes away must not touch it.
  ~QuiescenceWatch() { *alive_ = false; }
  QuiescenceWatch(const QuiescenceWatch&) = delete;
  QuiescenceWatch& operator=(const QuiescenceWatch&) = delete;

  // Starts watching; `done` gets kWaitingForInput when the tool is quiescent,
  // or kGone / kUnobservable. `first_delay` postpones the first look (a
  // watchdog need not look at a tool that answers steadily).
  void start(Observe observe, Pull pull, bool terminal, Done done,
             std::chrono::microseconds first_delay = std::chrono::microseconds(0),
             std::chrono::microseconds max_interval = std::chrono::milliseconds(10));
  // New output arrived: whatever was observed before does not count.
  void output_arrived() { confirmations_ = 0; }
  void cancel();
  bool active() const { return active_; }

 private:
  void schedule(std::chrono::microseconds delay);
  void look();

  Timer timer_;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
  Observe observe_;
  Pull pull_;
  bool terminal_ = false, active_ = false;
  int confirmations_ = 0;
  std::chrono::microseconds interval_{0}, max_interval_{0};
  Done done_;
};

}  // namespace viasock
