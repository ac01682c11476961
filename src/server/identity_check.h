// Whether the tool or one of its files changed since the daemon started,
// checked off the event loop: --watch may name a large directory tree, and a
// walk over it must not hold up every client.
#pragma once

#include <functional>
#include <string>

#include "common/run_options.h"
#include "server/asio.h"

namespace viasock {

class IdentityCheck {
 public:
  IdentityCheck(asio::io_context& io, RunOptions options, std::string identity);
  // Waits for a walk in progress.
  ~IdentityCheck();
  IdentityCheck(const IdentityCheck&) = delete;
  IdentityCheck& operator=(const IdentityCheck&) = delete;

  // Computes the server ID again on a worker thread, then calls
  // done(unchanged) on the loop. Ignored while a check is running.
  void start(std::function<void(bool unchanged)> done);

 private:
  asio::io_context& io_;
  const RunOptions options_;
  const std::string identity_;
  bool running_ = false;
  asio::thread_pool worker_{1};
};

}  // namespace viasock
