#include "server/quiescence.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <string>

#include "common/proc_stat.h"
#include "common/unique_fd.h"

namespace viasock {
namespace {

// Bounds on what one observation walks: a filter with a wrapper script or a
// few workers is small; a tool that forks hundreds of processes is busy.
constexpr int kMaxDepth = 6;
constexpr int kMaxProcesses = 64;

bool read_small_file(const std::string& path, std::string* text) {
  UniqueFd fd(open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) return false;
  char buffer[512];
  ssize_t n = read(fd.get(), buffer, sizeof buffer);
  if (n < 0) return false;
  text->assign(buffer, static_cast<size_t>(n));
  return true;
}

class Observation {
 public:
  explicit Observation(ino_t stdin_inode) : pipe_name_("pipe:[" + std::to_string(stdin_inode) + "]") {}

  ToolActivity result() const {
    if (gone_) return ToolActivity::kGone;
    if (unobservable_) return ToolActivity::kUnobservable;
    if (busy_ || !waiting_) return ToolActivity::kBusy;
    return ToolActivity::kWaitingForInput;
  }

  // False when the observation is decided (busy) and need not go on.
  bool visit(pid_t pid, int depth, bool is_root) {
    if (++processes_ > kMaxProcesses || depth > kMaxDepth) return busy_ = true, false;
    std::string dir = "/proc/" + std::to_string(pid) + "/task";
    DIR* tasks = opendir(dir.c_str());
    if (!tasks) {
      if (is_root) gone_ = true;
      return false;
    }
    bool go_on = true;
    while (dirent* entry = readdir(tasks)) {
      if (entry->d_name[0] < '0' || entry->d_name[0] > '9') continue;
      go_on = visit_thread(pid, dir + "/" + entry->d_name, depth);
      if (!go_on) break;
    }
    closedir(tasks);
    return go_on;
  }

 private:
  bool visit_thread(pid_t pid, const std::string& task, int depth) {
    std::string text;
    if (!read_small_file(task + "/stat", &text)) return true;  // the thread just ended
    char state = parse_stat_state(text);
    if (state_has_exited(state)) return true;
    // Stopped (T) counts as busy: a stopped tool is not about to answer.
    if (state != 'S' && state != 'I') return busy_ = true, false;
    if (!read_small_file(task + "/syscall", &text)) {
      unobservable_ = errno != ENOENT;
      return !unobservable_;
    }
    SyscallState call = parse_syscall(text);
    bool on_set = false;
    if (!call.running && waits_for_input(call.number, &on_set))
      waiting_ = waiting_ || (on_set ? holds_pipe(pid) : fd_is_pipe(pid, call.first_argument));
    if (read_small_file(task + "/children", &text)) {
      const char* at = text.c_str();
      char* end = nullptr;
      for (long child = std::strtol(at, &end, 10); end != at; child = std::strtol(at, &end, 10)) {
        at = end;
        if (!visit(static_cast<pid_t>(child), depth + 1, false)) return false;
      }
    }
    return true;
  }

  bool fd_is_pipe(pid_t pid, long fd) {
    char target[64];
    std::string link = "/proc/" + std::to_string(pid) + "/fd/" + std::to_string(fd);
    ssize_t n = readlink(link.c_str(), target, sizeof target);
    return n > 0 && std::string_view(target, static_cast<size_t>(n)) == pipe_name_;
  }

  bool holds_pipe(pid_t pid) {
    std::string dir = "/proc/" + std::to_string(pid) + "/fd";
    DIR* fds = opendir(dir.c_str());
    if (!fds) return false;
    bool found = false;
    while (dirent* entry = readdir(fds)) {
      if (entry->d_name[0] < '0' || entry->d_name[0] > '9') continue;
      if ((found = fd_is_pipe(pid, std::atol(entry->d_name)))) break;
    }
    closedir(fds);
    return found;
  }

  std::string pipe_name_;
  int processes_ = 0;
  bool busy_ = false, waiting_ = false, gone_ = false, unobservable_ = false;
};

}  // namespace

SyscallState parse_syscall(std::string_view text) {
  SyscallState state;
  std::string copy(text);
  const char* at = copy.c_str();
  char* end = nullptr;
  long number = std::strtol(at, &end, 10);
  if (end == at) return state;  // "running"
  at = end;
  long first = std::strtol(at, &end, 16);
  state.running = number < 0;  // "-1 ...": blocked, but not in a system call
  state.number = number;
  state.first_argument = end == at ? -1 : first;
  return state;
}

bool waits_for_input(long number, bool* on_descriptor_set) {
  *on_descriptor_set = false;
  switch (number) {
    case SYS_read:
    case SYS_readv:
    case SYS_pread64:
    case SYS_preadv: return true;
#ifdef SYS_poll
    case SYS_poll:
#endif
#ifdef SYS_select
    case SYS_select:
#endif
#ifdef SYS_epoll_wait
    case SYS_epoll_wait:
#endif
    case SYS_ppoll:
    case SYS_pselect6:
    case SYS_epoll_pwait: *on_descriptor_set = true; return true;
    default: return false;
  }
}

ToolActivity observe_tool(pid_t pid, ino_t stdin_inode) {
  Observation observation(stdin_inode);
  observation.visit(pid, 0, true);
  return observation.result();
}

}  // namespace viasock
