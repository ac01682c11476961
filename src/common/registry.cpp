#include "common/registry.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "common/daemon_info.h"
#include "common/state_dir.h"

namespace viasock {
namespace {

std::string entry_name(const std::string& id, pid_t pid) { return id + "." + std::to_string(pid) + ".json"; }

// $XDG_RUNTIME_DIR is made by logind for this user alone; use it only when
// it is an absolute path that exists.
std::string runtime_dir() {
  const char* dir = getenv("XDG_RUNTIME_DIR");
  if (!dir || dir[0] != '/') return "";
  struct stat st;
  if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode) || st.st_uid != geteuid()) return "";
  return dir;
}

// Why a directory is not the user's alone, or "".
std::string not_private(const struct stat& st, const std::string& path) {
  if (!S_ISDIR(st.st_mode)) return path + " is not a directory";
  if (st.st_uid != geteuid()) return path + " belongs to uid " + std::to_string(st.st_uid);
  if (st.st_mode & 077) return path + " is open to others";
  return "";
}

// Why the registry in the temporary directory cannot be ours, or "".
// Anybody may create /tmp/viasock-UID first.
std::string foreign(const std::string& path) {
  struct stat st;
  if (lstat(path.c_str(), &st) != 0) return "";  // not there: ours to create
  return not_private(st, path);
}

// A place only the user controls, for when the temporary one is taken.
std::string home_registry() {
  const char* home = getenv("HOME");
  if (!home || home[0] != '/') return "";
  std::string cache = std::string(home) + "/.cache";
  mkdir(cache.c_str(), 0700);
  return cache + "/viasock-registry";
}

}  // namespace

std::string registry_path(std::string* note) {
  std::string runtime = runtime_dir();
  if (!runtime.empty()) return runtime + "/viasock";
  std::string temp = temp_dir() + "/viasock-" + std::to_string(geteuid());
  std::string why = foreign(temp);
  if (why.empty()) return temp;
  std::string home = home_registry();
  if (note)
    *note =
        why + "; the registry of your daemons is " + (home.empty() ? "unavailable ($HOME unset)" : home) + " instead";
  return home.empty() ? temp : home;
}

bool Registry::open_existing(std::string* error) { return open(false, error); }
bool Registry::open_or_create(std::string* error) { return open(true, error); }

bool Registry::open(bool create, std::string* error) {
  error->clear();
  note_.clear();
  path_ = registry_path(&note_);
  if (create && mkdir(path_.c_str(), 0700) != 0 && errno != EEXIST) {
    *error = "cannot create the registry '" + path_ + "': " + std::strerror(errno);
    return false;
  }
  // Never through a symbolic link: in /tmp anybody could have planted one.
  fd_.reset(::open(path_.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!fd_) {
    if (errno != ENOENT || create)
      *error = "cannot open the registry '" + path_ + "': " + std::strerror(errno) +
               (errno == ELOOP || errno == ENOTDIR ? " (not a directory; remove it)" : "");
    return false;
  }
  struct stat st;
  // Checked again on what was opened: the name may have changed hands.
  if (fstat(fd_.get(), &st) != 0 || !not_private(st, path_).empty()) {
    *error = "refusing the registry '" + path_ + "': it must belong to you and be closed to others (chmod 700)";
    fd_.reset();
    return false;
  }
  return true;
}

std::vector<std::string> Registry::entries() const { return json_files(fd_.get()); }

bool Registry::add(const std::string& id, pid_t pid, const std::string& text, std::string* error) {
  if (write_file_atomically(fd_.get(), entry_name(id, pid), text)) return true;
  *error = "cannot register in '" + path_ + "': " + std::strerror(errno);
  return false;
}

void Registry::remove_own(const std::string& id) {
  std::string name = entry_name(id, getpid());
  std::string text;
  DaemonInfo info;
  if (read_small_file(fd_.get(), name, &text) && parse_daemon_info(text, &info) && info.pid == getpid())
    unlinkat(fd_.get(), name.c_str(), 0);
}

void Registry::remove(const std::string& name) { unlinkat(fd_.get(), name.c_str(), 0); }

}  // namespace viasock
