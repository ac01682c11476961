// What every call gets from the tool's start, whenever it joins: the prelude
// (what the tool prints before it first waits for input, or the -P records
// it prints then), and what the tool writes on stderr while it starts, which
// a direct run would show its caller too.
//
// Calls are held weakly: the daemon owns them, and one that is gone is
// skipped.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace viasock {

class Session;

class StartUpBroadcast {
 public:
  // The prelude: given to `session` now if it is known, else once it is.
  void wait_for_prelude(const std::shared_ptr<Session>& session);
  // Every instance prints it; calls get the first.
  void set_prelude(const std::string& prelude);
  // A call waiting for the prelude that ended without any record (the
  // learner serves it as a direct run), taken out of the wait; or null.
  std::shared_ptr<Session> take_empty_call();
  const std::string& prelude() const { return prelude_; }
  // The calls still waiting for the prelude.
  std::vector<std::shared_ptr<Session>> prelude_waiters() const;

  // A call that joined while the tool starts: it gets what the tool said on
  // stderr so far, and every line from now until start_up_over().
  void listen(const std::shared_ptr<Session>& session);
  void stderr_line(std::string_view line);
  // The tool is loaded: what it says now goes to the call it works for.
  void start_up_over();

 private:
  std::string prelude_;
  bool prelude_known_ = false;
  std::vector<std::weak_ptr<Session>> prelude_waiters_, listeners_;
  // Kept for calls that join later, up to kMaxStartUpStderr.
  std::string stderr_;
};

}  // namespace viasock
