// Whether the tool or one of its files changed since the daemon started,
// checked off the event loop: --watch may name a large directory tree, and
// a tool may have read thousands of files at start (start_tracker.h); a walk
// over them must not hold up every client.
#pragma once

#include <functional>
#include <memory>
#include <nlohmann/json_fwd.hpp>
#include <string>

#include "common/run_options.h"
#include "server/asio.h"
#include "server/scheduler.h"

namespace viasock {

class StartTracker;
class TrackedFilesWatch;

class IdentityCheck {
 public:
  // `own_dir`: the daemon's state directory, never tracked.
  IdentityCheck(asio::io_context& io, RunOptions options, std::string identity, const std::string& own_dir);
  // Waits for a walk in progress.
  ~IdentityCheck();
  IdentityCheck(const IdentityCheck&) = delete;
  IdentityCheck& operator=(const IdentityCheck&) = delete;

  // Computes the server ID again and compares the files the tool read at
  // start on a worker thread, then calls done(unchanged) on the loop.
  // Ignored while a check is running, and while the last one's cost says
  // to wait (sched::CheckPace: at most 5 % of a core).
  void start(std::function<void(bool unchanged)> done);

  // On the loop, without waiting: whether a file the tool read at start
  // changed, from what inotify queued so far (tracked_files_watch.h). Asked
  // when a client connects, so that no call made after a change is served
  // by this daemon.
  bool tracked_file_changed();

  // What records the files the tool reads at start; null with --no-track.
  StartTracker* tracker() const { return tracker_.get(); }
  // Adds what the identity covers beyond the command line to a status.
  void describe(nlohmann::json& status) const;

 private:
  asio::io_context& io_;
  const RunOptions options_;
  const std::string identity_;
  std::unique_ptr<StartTracker> tracker_;
  std::unique_ptr<TrackedFilesWatch> watch_;  // once recording is done
  std::string changed_at_start_;              // a file changed while the tool started
  bool running_ = false;
  sched::CheckPace pace_{1.0, 0.05};
  asio::thread_pool worker_{1};
};

}  // namespace viasock
