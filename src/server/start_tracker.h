// Records the regular files a tool instance (and its children) opens for
// reading or executes from its start until it first waits for input, so that
// they join the identity check (identity_check.h): a changed module, config
// or model then makes the daemon stale as a changed tool does.
//
// How: the child installs, between fork and exec, a seccomp filter that
// sends the opens of files, execve, execveat and the renames to the daemon
// as user notifications (SECCOMP_RET_USER_NOTIF); a thread of the daemon
// reads each call's path from the tool's memory, answers "continue" at once
// and notes the path. The files' states are taken when start-up ends; one
// whose change time is later than the tool's start changed while the tool
// read it, unless the tool wrote it itself. The filter cannot be removed,
// and without a listener those calls would fail, so once recording ends the
// thread goes on answering "continue", for the life of the tool (tens of
// microseconds per open; see "Files the tool reads at start" in
// docs/DESIGN.md for the measurements and the other candidates). Only tools
// started while recording carry the filter: instances started later (a
// crash, --max-records, a growing pool) run as before.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "common/file_state.h"
#include "common/unique_fd.h"

namespace viasock {

enum class TrackState {
  kRecording,  // no tracked instance has waited for input yet
  kDone,       // files() is what the tool read at start
  kRefused,    // tracing not allowed here: problem() says why
};

// What a call the filter sent names: a file read, or one the tool writes
// itself (opened for writing, or the target of a rename). The path is ""
// for an O_PATH open and for one that cannot be read back.
struct TrackedCall {
  std::string path;
  bool written = false;
};

// The two ends of the socket pair a child sends its listener through.
struct TrackChannel {
  UniqueFd parent, child;
};

class StartTracker {
 public:
  // `own_dir`: the daemon's state directory, whose files are never tracked.
  explicit StartTracker(std::string own_dir);
  // Stops the thread; tools still carrying the filter are gone by then
  // (their instances end before the daemon).
  ~StartTracker();
  StartTracker(const StartTracker&) = delete;
  StartTracker& operator=(const StartTracker&) = delete;

  // Before fork: whether to track the tool about to start, and the channel
  // for it. False once recording ended, or when `tool_path` is setuid or
  // setgid (the filter would cost it its privileges).
  bool prepare(const std::string& tool_path, TrackChannel* channel);
  // In the child between fork and exec (async-signal-safe): installs the
  // filter and sends its listener, or the errno that refused it.
  static void install_in_child(int channel);
  // In the parent after fork: takes the listener (or the refusal) before
  // the child execs, which the filter holds until the thread answers.
  void adopt(TrackChannel channel);
  // A tracked instance waits for input: recording ends, and `on_done` (set
  // by the owner, called on the same thread) learns it.
  void start_up_done();
  void set_on_done(std::function<void()> on_done) { on_done_ = std::move(on_done); }

  TrackState state() const;
  std::string problem() const;
  // Sorted by path, their states as start-up ended; complete once state()
  // is kDone.
  std::vector<FileState> files() const;
  // A file the tool read that changed after the tool started (not by the
  // tool itself), or "": the daemon is stale from the start.
  std::string changed_at_start() const;

 private:
  void refuse(const std::string& problem);
  void serve();
  void answer(int listener);
  void note(const TrackedCall& call);

  const std::string own_dir_;
  UniqueFd wake_;  // eventfd: a new listener, or time to stop
  mutable std::mutex mutex_;
  std::vector<UniqueFd> listeners_;  // guarded by mutex_
  std::vector<std::string> paths_;   // in the order read; guarded by mutex_
  std::vector<FileState> files_;     // at the end of start-up; guarded by mutex_
  std::string changed_at_start_;     // guarded by mutex_
  int64_t started_ns_ = 0;           // when the first tracked tool started (set on the loop)
  std::set<std::string> seen_;       // guarded by mutex_
  std::set<std::string> written_;    // by the tool while recording; guarded by mutex_
  std::string problem_;              // guarded by mutex_
  std::atomic<TrackState> state_{TrackState::kRecording};
  std::atomic<bool> stopping_{false};
  std::function<void()> on_done_;
  std::thread thread_;
};

}  // namespace viasock
