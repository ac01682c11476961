// `viasock prune`: removes what daemons left behind.
//
// - A daemon that died without cleaning up (kill -9, a reboot) leaves its
//   socket, run/<ID>.json, its registry entry and its log: all are removed.
// - A daemon that exited normally leaves its log and its lock file: they are
//   removed once the newest of them is older than --older-than DAYS (7 by
//   default, 0 for all), so that the log of a recent daemon can still be
//   read with `viasock logs`.
//
// A lock file is removed only while prune holds it (a client or daemon
// holding it makes prune skip it); IdLock::acquire notices a lock file that
// was removed under it and takes the new one.
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cctype>
#include <cstdio>
#include <ctime>
#include <map>

#include "client/daemon_list.h"
#include "client/manage_commands.h"
#include "common/error_output.h"
#include "common/exit_codes.h"
#include "common/registry.h"
#include "common/state_dir.h"
#include "common/unix_socket.h"

namespace viasock {
namespace {

constexpr size_t kIdLength = 64;
// The log, its rotations, and what the daemon learned about its tool.
const char* const kLogSuffixes[] = {".log", ".1.log", ".2.log", ".3.log", ".learned"};

bool is_id(const std::string& text) {
  if (text.size() != kIdLength) return false;
  for (char c : text)
    if (!isxdigit(static_cast<unsigned char>(c))) return false;
  return true;
}

// ID -> newest modification time of its files in `dir_fd`.
void collect_ids(int dir_fd, std::map<std::string, time_t>* newest) {
  if (dir_fd < 0) return;
  int copy = fcntl(dir_fd, F_DUPFD_CLOEXEC, 0);
  DIR* dir = copy < 0 ? nullptr : fdopendir(copy);
  if (!dir) {
    if (copy >= 0) close(copy);
    return;
  }
  while (dirent* entry = readdir(dir)) {
    std::string name = entry->d_name;
    std::string id = name.substr(0, kIdLength);
    struct stat st;
    if (!is_id(id) || name.size() <= kIdLength || name[kIdLength] != '.' ||
        fstatat(dir_fd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0)
      continue;
    time_t& time = (*newest)[id];
    if (st.st_mtime > time) time = st.st_mtime;
  }
  closedir(dir);
}

void remove_logs(const StateDir& state, const std::string& id) {
  for (const char* suffix : kLogSuffixes) unlinkat(state.logs_fd(), (id + suffix).c_str(), 0);
}

// A daemon whose process is gone: its files, under the per-ID lock.
bool prune_dead(const KnownDaemon& daemon, int* code) {
  const std::string& id = daemon.info.id;
  StateDir state;
  std::string error;
  if (state.open_existing(daemon.info.state_dir, &error) && state.run_fd() >= 0 && state.locks_fd() >= 0) {
    IdLock lock;
    if (!lock.acquire(state, id, &error)) {
      *code = print_error(kExitDaemon, error);
      return false;
    }
    // Under the lock no daemon of this ID can be starting; one that answers
    // now was started since we looked, and stays. The dead daemon itself
    // may still take a connection for a moment after it was killed: its
    // other threads are still exiting, with its descriptors, while /proc
    // already shows it a zombie.
    SocketAddress address;
    if (address.open(state.socket_path(id), &error)) {
      UniqueFd probe = connect_unix(address.address());
      if (probe && peer_pid(probe.get()) != daemon.info.pid) return false;
    }
    if (state.sockets_fd() >= 0) unlinkat(state.sockets_fd(), id.c_str(), 0);
    if (state.logs_fd() >= 0) remove_logs(state, id);
    std::string run_name = id + ".json";
    unlinkat(state.run_fd(), run_name.c_str(), 0);
  }
  if (!daemon.registry_entry.empty()) {
    Registry registry;
    if (registry.open_existing(&error)) registry.remove(daemon.registry_entry);
  }
  return true;
}

// Logs and locks of daemons that exited normally, past their keeping time.
void prune_exited(const StateDir& state, double older_than_days, const std::vector<KnownDaemon>& running) {
  std::map<std::string, time_t> newest;
  collect_ids(state.logs_fd(), &newest);
  collect_ids(state.locks_fd(), &newest);
  time_t cutoff = time(nullptr) - static_cast<time_t>(older_than_days * 86400);
  for (const auto& [id, modified] : newest) {
    bool live = false;
    for (const auto& d : running) live = live || d.info.id == id;
    if (live || modified > cutoff) continue;
    std::string error;
    IdLock lock;
    bool have_lock = state.locks_fd() >= 0 && lock.try_acquire_existing(state, id, &error);
    if (state.locks_fd() >= 0 && !have_lock) {
      struct stat st;
      // A lock file someone holds (or that we cannot open) stays, and so do the logs.
      if (fstatat(state.locks_fd(), (id + ".lock").c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0) continue;
    }
    if (state.logs_fd() >= 0) remove_logs(state, id);
    if (have_lock) unlinkat(state.locks_fd(), (id + ".lock").c_str(), 0);
    printf("removed the log and lock of %s\n", id.substr(0, 12).c_str());
  }
}

}  // namespace

int prune_command(const ManageOptions& options) {
  if (!(options.older_than_days >= 0))
    return print_error(kExitUsage, "--older-than must not be negative (see 'viasock prune --help')");
  std::vector<KnownDaemon> daemons;
  std::string error;
  // The registry is read even without --everywhere, so that the entry of a
  // dead daemon of this directory goes too.
  if (!find_daemons({options.state_dir, true}, &daemons, &error)) return print_error(kExitDaemon, error);
  int code = kExitOk;
  std::vector<KnownDaemon> running;
  for (const auto& daemon : daemons) {
    if (!daemon.local && !options.everywhere) continue;
    if (daemon.alive) {
      running.push_back(daemon);
    } else if (prune_dead(daemon, &code)) {
      printf("removed %s  %s\n", daemon.info.id.substr(0, 12).c_str(), command_line(daemon.info).c_str());
    } else {
      running.push_back(daemon);
    }
  }
  StateDir state;
  if (state.open_existing(choose_state_dir(options.state_dir), &error))
    prune_exited(state, options.older_than_days, running);
  return code;
}

}  // namespace viasock
