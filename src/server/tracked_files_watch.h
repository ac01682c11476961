// Tells at once whether a file the tool read at start changed, so that a
// call that comes right after the change is not served by the old daemon.
//
// The once-a-second check (identity_check.h) compares every tracked file's
// state, but a call made within that second would still get the old model's
// answers with status 0. inotify queues its events inside the system call
// that changes a file, before that call returns, so a daemon that reads its
// queue when it accepts a client sees every change made before the client
// connected. The watches are on the files' directories (a file replaced by a
// rename shows there, under its name) and, for a path whose last part is a
// symbolic link, on the file it points to. Only events that name a tracked
// file lead to a stat of that file; an overflowed queue, to a stat of all.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "common/file_state.h"
#include "common/unique_fd.h"

namespace viasock {

class TrackedFilesWatch {
 public:
  // Watches `files` (as recorded at start). When the system refuses a watch
  // (its limit of watches reached), available() is false and the
  // once-a-second check is all there is.
  explicit TrackedFilesWatch(std::vector<FileState> files);

  bool available() const { return static_cast<bool>(inotify_); }
  // Why watching is not available, for the log.
  const std::string& problem() const { return problem_; }

  // Reads the events queued so far, without waiting, and returns the first
  // tracked file whose state is no longer the recorded one, or nullptr.
  // Once a change was seen it stays seen.
  const FileState* changed();

 private:
  struct Watch {
    std::map<std::string, std::vector<size_t>, std::less<>> by_name;  // entries of a directory
    std::vector<size_t> itself;  // files this watch is on (a symbolic link's target)
  };

  // The watch for `path`, or null (gone, or watching ended).
  Watch* add(const std::string& path, uint32_t mask);
  void check(size_t index);

  std::vector<FileState> files_;
  UniqueFd inotify_;
  std::map<int, Watch> watches_;
  std::string problem_;
  const FileState* changed_ = nullptr;
};

}  // namespace viasock
