// `viasock logs ID [-f]`: a daemon's log, found by ID prefix among the
// running daemons (everywhere) and the logs left in the state directory.
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <thread>

#include "client/daemon_list.h"
#include "client/manage_commands.h"
#include "common/error_output.h"
#include "common/exit_codes.h"
#include "common/state_dir.h"
#include "common/unique_fd.h"

namespace viasock {
namespace {

constexpr auto kFollowInterval = std::chrono::milliseconds(200);

// The log of the daemon whose ID starts with `prefix`, and its pid when it
// runs (0 otherwise).
bool find_log(const ManageOptions& options, const std::string& prefix, std::string* log, pid_t* pid, int* code) {
  std::vector<KnownDaemon> daemons;
  std::string error;
  if (!find_daemons({options.state_dir, true}, &daemons, &error))
    return (*code = print_error(kExitDaemon, error)), false;
  struct Found {
    std::string id, log;
    pid_t pid;  // 0: not running
  };
  std::vector<Found> found;
  for (const auto& d : daemons)
    if (d.info.id.starts_with(prefix)) found.push_back({d.info.id, d.info.log, d.alive ? d.info.pid : 0});
  StateDir state;
  if (found.empty() && state.open_existing(choose_state_dir(options.state_dir), &error) && state.logs_fd() >= 0) {
    DIR* dir = opendir((state.root() + "/logs").c_str());
    while (dirent* entry = dir ? readdir(dir) : nullptr) {
      std::string name = entry->d_name;
      if (name.starts_with(prefix) && name.size() == 68 && name.ends_with(".log"))
        found.push_back({name.substr(0, 64), state.root() + "/logs/" + name, 0});
    }
    if (dir) closedir(dir);
  }
  if (found.empty())
    return (*code = print_error(1, "no daemon or log with an ID starting with '" + prefix +
                                       "' (see 'viasock list --all')")),
           false;
  if (found.size() > 1) {
    // Named, so that the user can pick one: the first 12 characters of
    // each ID, as `list` shows them.
    std::string ids;
    constexpr size_t kShown = 8;
    for (size_t i = 0; i < found.size() && i < kShown; ++i) ids += (i ? ", " : "") + found[i].id.substr(0, 12);
    if (found.size() > kShown) ids += " and " + std::to_string(found.size() - kShown) + " more";
    return (*code = print_error(kExitUsage, "the ID prefix '" + prefix + "' names " + std::to_string(found.size()) +
                                                " daemons (" + ids + "); give more of it")),
           false;
  }
  *log = found[0].log;
  *pid = found[0].pid;
  return true;
}

// spdlog's names for rotated files: ID.log -> ID.1.log.
std::string rotated(const std::string& path, int index) {
  size_t slash = path.rfind('/');
  size_t dot = path.rfind('.');
  if (dot == std::string::npos || (slash != std::string::npos && dot < slash))
    return path + "." + std::to_string(index);
  return path.substr(0, dot) + "." + std::to_string(index) + path.substr(dot);
}

bool copy_out(int fd) {
  char buffer[65536];
  while (true) {
    ssize_t n = read(fd, buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return n == 0;
    for (ssize_t done = 0; done < n;) {
      ssize_t w = write(STDOUT_FILENO, buffer + done, static_cast<size_t>(n - done));
      if (w <= 0) return false;
      done += w;
    }
  }
}

bool same_file(int fd, const std::string& path) {
  struct stat held, named;
  return fstat(fd, &held) == 0 && stat(path.c_str(), &named) == 0 && held.st_ino == named.st_ino &&
         held.st_dev == named.st_dev;
}

// Which rotated file the descriptor's file has become (1 is the newest),
// or one past the oldest when it was rotated out of existence.
int rotation_index(int fd, const std::string& path) {
  for (int index = 1; index <= StateDir::kRotatedLogs; ++index)
    if (same_file(fd, rotated(path, index))) return index;
  return StateDir::kRotatedLogs + 1;
}

// Prints what is appended to `path` until the daemon `pid` has exited,
// following the log across rotation: a busy daemon may rotate more than
// once between two looks, so the files rotated after the one held are
// printed too, oldest first, before the new log.
void follow(UniqueFd fd, const std::string& path, pid_t pid) {
  for (bool alive = true; alive;) {
    std::this_thread::sleep_for(kFollowInterval);
    // Looked at before reading: what it wrote before it exited is read below.
    alive = pid > 0 && process_alive(pid);
    if (!copy_out(fd.get())) return;
    while (!same_file(fd.get(), path)) {
      for (int index = rotation_index(fd.get(), path) - 1; index >= 1; --index) {
        UniqueFd between(open(rotated(path, index).c_str(), O_RDONLY | O_CLOEXEC));
        if (between && !copy_out(between.get())) return;
      }
      UniqueFd next(open(path.c_str(), O_RDONLY | O_CLOEXEC));
      if (!next) break;
      fd = std::move(next);
      if (!copy_out(fd.get())) return;
    }
  }
}

}  // namespace

int logs_command(const ManageOptions& options) {
  if (options.ids.size() != 1)
    return print_error(kExitUsage, "name one daemon by ID prefix (see 'viasock logs --help')");
  std::string log;
  pid_t pid = 0;
  int code = kExitOk;
  if (!find_log(options, options.ids[0], &log, &pid, &code)) return code;
  for (int index = StateDir::kRotatedLogs; index >= 1; --index) {
    UniqueFd old(open(rotated(log, index).c_str(), O_RDONLY | O_CLOEXEC));
    if (old) copy_out(old.get());
  }
  UniqueFd fd(open(log.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) return print_error(1, "cannot read the log '" + log + "': " + std::strerror(errno));
  if (!copy_out(fd.get())) return 1;
  if (options.follow) follow(std::move(fd), log, pid);
  return kExitOk;
}

}  // namespace viasock
