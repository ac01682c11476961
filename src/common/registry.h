// The per-user registry: one entry per running daemon of this user on this
// host, whatever its working directory or state directory, so that
// `viasock list --all` and `viasock stop --all --everywhere` find them all.
//
// It lives in $XDG_RUNTIME_DIR/viasock (private to the user, emptied at
// logout), else in /tmp/viasock-UID, which is refused unless it is a real
// directory owned by the user and closed to group and others. An entry is
// <ID>.<PID>.json with the content of run/<ID>.json; only the process named
// in it removes it while it runs (`prune` removes entries of dead processes).
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "common/unique_fd.h"

namespace viasock {

// Where the registry is (whether or not it exists).
std::string registry_path();

class Registry {
 public:
  // For readers: creates nothing. A missing registry is not an error:
  // false with *error empty.
  bool open_existing(std::string* error);
  // For daemons: creates the directory 0700 when missing.
  bool open_or_create(std::string* error);

  const std::string& path() const { return path_; }
  int fd() const { return fd_.get(); }

  // Entry file names (*.json).
  std::vector<std::string> entries() const;
  bool add(const std::string& id, pid_t pid, const std::string& text, std::string* error);
  // Removes this process's entry for `id`, if its content names this process.
  void remove_own(const std::string& id);
  // Removes the entry `name` (for prune: only of a process that is gone).
  void remove(const std::string& name);

 private:
  bool open(bool create, std::string* error);

  std::string path_;
  UniqueFd fd_;
};

}  // namespace viasock
