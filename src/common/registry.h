// The per-user registry: one entry per running daemon of this user on this
// host, whatever its working directory or state directory, so that
// `viasock list --all` and `viasock stop --all --everywhere` find them all.
//
// It lives in $XDG_RUNTIME_DIR/viasock (private to the user, emptied at
// logout), else in $TMPDIR/viasock-UID (/tmp by default) when it is a real
// directory owned by the user and closed to group and others, or not there
// yet; else, since anybody may create that name first, in
// $HOME/.cache/viasock-registry. An entry is
// <ID>.<PID>.json with the content of run/<ID>.json; only the process named
// in it removes it while it runs (`prune` removes entries of dead processes).
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "common/unique_fd.h"

namespace viasock {

// Where the registry is (whether or not it exists). When the temporary
// directory's place is taken by someone else, the registry is in the
// user's home instead, and *note says why.
std::string registry_path(std::string* note = nullptr);

class Registry {
 public:
  // For readers: creates nothing. A missing registry is not an error:
  // false with *error empty.
  bool open_existing(std::string* error);
  // For daemons: creates the directory 0700 when missing.
  bool open_or_create(std::string* error);

  const std::string& path() const { return path_; }
  // Why the registry is not where it would be, or "" (see registry_path).
  const std::string& note() const { return note_; }
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

  std::string path_, note_;
  UniqueFd fd_;
};

}  // namespace viasock
