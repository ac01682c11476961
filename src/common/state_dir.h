// The state directory: sockets/, logs/, locks/ and run/ under ./.viasock,
// --state-dir or $VIASOCK_DIR (docs/DESIGN.md, "State directory"). It is
// created 0700 and refused when another user owns it or others may write it,
// because whoever can write there can stand in for a daemon.
#pragma once

#include <string>

#include "common/unique_fd.h"

namespace viasock {

// --state-dir, else $VIASOCK_DIR, else ./.viasock.
std::string choose_state_dir(const std::string& option);
// The shared temporary directory: $TMPDIR when it is an absolute path, else /tmp.
std::string temp_dir();

class StateDir {
 public:
  // Creates what is missing and checks ownership and modes. On failure
  // returns false with a one-line reason in *error.
  bool open(const std::string& root, std::string* error);
  // For commands that only look (list, stop, prune, logs): creates nothing.
  // A missing directory is not an error: false with *error empty. A missing
  // subdirectory is simply absent (its descriptor is -1).
  bool open_existing(const std::string& root, std::string* error);

  const std::string& root() const { return root_; }
  std::string socket_path(const std::string& id) const { return root_ + "/sockets/" + id; }
  std::string log_path(const std::string& id) const { return root_ + "/logs/" + id + ".log"; }
  // How many rotated logs (<ID>.1.log, the newest, to <ID>.3.log) a daemon keeps.
  static constexpr int kRotatedLogs = 3;
  std::string run_path(const std::string& id) const { return root_ + "/run/" + id + ".json"; }
  std::string lock_path(const std::string& id) const { return root_ + "/locks/" + id + ".lock"; }
  int sockets_fd() const { return sockets_.get(); }
  int locks_fd() const { return locks_.get(); }
  int run_fd() const { return run_.get(); }
  int logs_fd() const { return logs_.get(); }

 private:
  std::string root_;
  UniqueFd root_fd_, sockets_, logs_, locks_, run_;
};

// An exclusive flock(2) on locks/<id>.lock, held for the object's lifetime.
// The per-ID lock serialises spawning and removing that ID's socket.
//
// `prune` may delete a lock file; it does so only while holding it. A holder
// therefore checks, once it has the lock, that the file it locked is still
// the one under that name, and starts over otherwise: whoever waited on a
// deleted file never believes it holds the lock beside the holder of the new
// file.
class IdLock {
 public:
  bool acquire(const StateDir& dir, const std::string& id, std::string* error);
  // Without waiting: false with *error empty when someone else holds it, or
  // when the lock file does not exist (nothing to remove then).
  bool try_acquire_existing(const StateDir& dir, const std::string& id, std::string* error);
  // Never waits: false with *busy set when another process holds the lock
  // (an event loop must not block on a client that is spawning a daemon).
  bool try_acquire(const StateDir& dir, const std::string& id, bool* busy, std::string* error);

 private:
  UniqueFd fd_;
};

}  // namespace viasock
