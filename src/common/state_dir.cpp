#include "common/state_dir.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

namespace viasock {
namespace {

std::string failure(const std::string& what, const std::string& path) {
  return what + " '" + path + "': " + std::strerror(errno);
}

// Refuses a directory that someone else could have prepared for us.
bool check_owned(int fd, const std::string& path, std::string* error) {
  struct stat st;
  if (fstat(fd, &st) != 0) {
    *error = failure("cannot inspect state directory", path);
    return false;
  }
  if (st.st_uid != geteuid()) {
    *error = "state directory '" + path + "' belongs to uid " + std::to_string(st.st_uid) +
             ", not to you; use --state-dir or VIASOCK_DIR to choose another";
    return false;
  }
  if (st.st_mode & (S_IWGRP | S_IWOTH)) {
    *error = "state directory '" + path + "' is writable by group or others; run 'chmod 700 " + path +
             "' or choose another with --state-dir";
    return false;
  }
  return true;
}

// The state directory may be reached through a symbolic link the user (or
// root) made (VIASOCK_DIR=/scratch/me/vs); one that another user made, such
// as a `.viasock` planted in /tmp, could point us at any directory of ours
// and is refused, as the kernel's protected_symlinks refuses to follow it
// in a sticky directory.
bool check_link(const std::string& path, std::string* error) {
  struct stat st;
  if (lstat(path.c_str(), &st) != 0 || !S_ISLNK(st.st_mode) || st.st_uid == geteuid() || st.st_uid == 0) return true;
  *error = "state directory '" + path + "' is a symbolic link made by uid " + std::to_string(st.st_uid) +
           ", not by you; remove it or choose another with --state-dir or VIASOCK_DIR";
  return false;
}

// Opens (creating it 0700 when missing) the directory `name` under `parent`,
// never following a symbolic link.
UniqueFd open_subdir(int parent, const std::string& name, const std::string& path, std::string* error) {
  if (mkdirat(parent, name.c_str(), 0700) != 0 && errno != EEXIST) {
    *error = failure("cannot create state directory", path);
    return UniqueFd();
  }
  UniqueFd fd(openat(parent, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!fd) {
    *error = failure("cannot open state directory", path);
    return UniqueFd();
  }
  if (!check_owned(fd.get(), path, error)) return UniqueFd();
  return fd;
}

// Absolute, so that run/<ID>.json names paths valid from anywhere.
std::string absolute(const std::string& root) {
  std::string path = root;
  if (path.empty() || path.front() != '/') {
    char cwd[4096];
    if (getcwd(cwd, sizeof cwd)) path = std::string(cwd) + "/" + (path.starts_with("./") ? path.substr(2) : path);
  }
  while (path.size() > 1 && path.back() == '/') path.pop_back();
  return path;
}

// Opens an existing subdirectory without creating it; absent is not an error.
bool open_existing_subdir(int parent, const std::string& name, const std::string& path, UniqueFd* out,
                          std::string* error) {
  out->reset(openat(parent, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!*out) {
    if (errno == ENOENT) return true;
    *error = failure("cannot open state directory", path);
    return false;
  }
  return check_owned(out->get(), path, error);
}

}  // namespace

std::string temp_dir() {
  const char* dir = getenv("TMPDIR");
  return dir && dir[0] == '/' ? dir : "/tmp";
}

std::string choose_state_dir(const std::string& option) {
  if (!option.empty()) return option;
  const char* env = getenv("VIASOCK_DIR");
  if (env && *env) return env;
  return ".viasock";
}

bool StateDir::open_existing(const std::string& root, std::string* error) {
  root_ = absolute(root);
  error->clear();
  if (!check_link(root_, error)) return false;
  root_fd_.reset(::open(root_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!root_fd_) {
    if (errno != ENOENT) *error = failure("cannot open state directory", root_);
    return false;
  }
  if (!check_owned(root_fd_.get(), root_, error)) return false;
  return open_existing_subdir(root_fd_.get(), "sockets", root_ + "/sockets", &sockets_, error) &&
         open_existing_subdir(root_fd_.get(), "logs", root_ + "/logs", &logs_, error) &&
         open_existing_subdir(root_fd_.get(), "locks", root_ + "/locks", &locks_, error) &&
         open_existing_subdir(root_fd_.get(), "run", root_ + "/run", &run_, error);
}

bool StateDir::open(const std::string& root, std::string* error) {
  root_ = absolute(root);
  // The root itself may be reached through symbolic links the user chose
  // (VIASOCK_DIR=/scratch/me/vs); nothing inside it is followed.
  if (!check_link(root_, error)) return false;
  if (mkdir(root_.c_str(), 0700) != 0 && errno != EEXIST) {
    *error = failure("cannot create state directory", root_);
    return false;
  }
  root_fd_.reset(::open(root_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!root_fd_) {
    *error = failure("cannot open state directory", root_);
    return false;
  }
  if (!check_owned(root_fd_.get(), root_, error)) return false;
  sockets_ = open_subdir(root_fd_.get(), "sockets", root_ + "/sockets", error);
  if (!sockets_) return false;
  logs_ = open_subdir(root_fd_.get(), "logs", root_ + "/logs", error);
  if (!logs_) return false;
  locks_ = open_subdir(root_fd_.get(), "locks", root_ + "/locks", error);
  if (!locks_) return false;
  run_ = open_subdir(root_fd_.get(), "run", root_ + "/run", error);
  return static_cast<bool>(run_);
}

namespace {

// True when `fd` is still the file named `name` in `dir`.
bool still_linked(int fd, int dir, const std::string& name) {
  struct stat held, named;
  return fstat(fd, &held) == 0 && fstatat(dir, name.c_str(), &named, AT_SYMLINK_NOFOLLOW) == 0 &&
         held.st_dev == named.st_dev && held.st_ino == named.st_ino;
}

}  // namespace

bool IdLock::acquire(const StateDir& dir, const std::string& id, std::string* error) {
  std::string name = id + ".lock";
  while (true) {
    fd_.reset(openat(dir.locks_fd(), name.c_str(), O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600));
    if (!fd_) {
      *error = failure("cannot open lock", dir.lock_path(id));
      return false;
    }
    while (flock(fd_.get(), LOCK_EX) != 0) {
      if (errno == EINTR) continue;
      *error = failure("cannot lock", dir.lock_path(id));
      return false;
    }
    if (still_linked(fd_.get(), dir.locks_fd(), name)) return true;
  }
}

bool IdLock::try_acquire_existing(const StateDir& dir, const std::string& id, std::string* error) {
  error->clear();
  std::string name = id + ".lock";
  fd_.reset(openat(dir.locks_fd(), name.c_str(), O_RDWR | O_NOFOLLOW | O_CLOEXEC));
  if (!fd_) {
    if (errno != ENOENT) *error = failure("cannot open lock", dir.lock_path(id));
    return false;
  }
  if (flock(fd_.get(), LOCK_EX | LOCK_NB) != 0 || !still_linked(fd_.get(), dir.locks_fd(), name)) {
    fd_.reset();
    return false;
  }
  return true;
}

}  // namespace viasock

namespace viasock {

bool IdLock::try_acquire(const StateDir& dir, const std::string& id, bool* busy, std::string* error) {
  *busy = false;
  std::string name = id + ".lock";
  fd_.reset(openat(dir.locks_fd(), name.c_str(), O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600));
  if (!fd_) {
    *error = failure("cannot open lock", dir.root() + "/locks/" + name);
    return false;
  }
  while (flock(fd_.get(), LOCK_EX | LOCK_NB) != 0) {
    if (errno == EINTR) continue;
    *busy = errno == EWOULDBLOCK;
    *error = failure("cannot lock", dir.root() + "/locks/" + name);
    fd_.reset();
    return false;
  }
  return true;
}

}  // namespace viasock
