#include "server/child_process.h"

#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <termios.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "common/close_descriptors.h"
#include "common/exit_codes.h"
#include "common/tool_path.h"
#include "server/scheduler.h"
#include "server/start_tracker.h"

namespace viasock {
namespace {

// Bigger pipes let a fast tool run ahead of us; the default 64 KiB costs
// throughput. Failure (a lower system limit) only costs speed.
void enlarge(int fd) { fcntl(fd, F_SETPIPE_SZ, 1 << 20); }

// A pseudo-terminal in raw mode: bytes pass unchanged (no "\r\n" for "\n",
// no echo, no signals from control characters). O_NOCTTY because the daemon
// leads its own session and must never acquire a controlling terminal.
bool make_terminal(UniqueFd* master, UniqueFd* slave) {
  master->reset(posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC));
  if (!*master || grantpt(master->get()) != 0 || unlockpt(master->get()) != 0) return false;
  char name[128];
  if (ptsname_r(master->get(), name, sizeof name) != 0) return false;
  slave->reset(open(name, O_RDWR | O_NOCTTY | O_CLOEXEC));
  if (!*slave) return false;
  termios mode;
  if (tcgetattr(slave->get(), &mode) != 0) return false;
  cfmakeraw(&mode);
  return tcsetattr(slave->get(), TCSANOW, &mode) == 0;
}

// In the child, between fork and exec: only async-signal-safe calls. The
// tool gets every signal at its default and none blocked, as a shell would
// start it. (posix_spawn cannot do this: glibc leaves its two internal
// signals ignored in the child, and an ignored signal stays ignored across
// exec.) A process group of its own, so that the whole of it can be ended.
[[noreturn]] void exec_child(const ToolCommand& command, char* const* argv, int in, int out, int err, int report,
                             int track) {
  for (int sig = 1; sig < NSIG; ++sig) signal(sig, SIG_DFL);
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, nullptr);
  setpgid(0, 0);
  if (dup2(in, 0) < 0 || dup2(out, 1) < 0 || dup2(err, 2) < 0) {
    int error = errno;
    (void)!write(report, &error, sizeof error);
    _exit(127);
  }
  if (track >= 0) StartTracker::install_in_child(track);
  // Everything else of the daemon (sockets, log, other instances' pipes)
  // stays out of the tool, even descriptors a library opened without
  // close-on-exec; only the report pipe stays until exec closes it.
  close_descriptors_from(3, report);
  execv(command.path.c_str(), argv);
  int error = errno;
  (void)!write(report, &error, sizeof error);
  _exit(127);
}

}  // namespace

ChildProcess::ChildProcess(ChildProcess&& other) noexcept
    : pid_(std::exchange(other.pid_, -1)),
      streams_(std::move(other.streams_)),
      reaped_(other.reaped_),
      wait_status_(other.wait_status_),
      stdin_inode_(other.stdin_inode_),
      cpu_clock_(other.cpu_clock_),
      has_cpu_clock_(std::exchange(other.has_cpu_clock_, false)),
      tracker_(std::exchange(other.tracker_, nullptr)) {}

ChildProcess::~ChildProcess() {
  if (pid_ <= 0 || reaped_) return;
  kill_group();
  while (waitpid(pid_, nullptr, 0) < 0 && errno == EINTR) {
  }
}

bool ChildProcess::spawn(const ToolCommand& command, StdoutKind stdout_kind, int* exit_code, std::string* error) {
  UniqueFd in_read, in_write, out_read, out_write, err_read, err_write;
  bool made =
      make_pipe(&in_read, &in_write) && make_pipe(&err_read, &err_write) &&
      (stdout_kind == StdoutKind::kPipe ? make_pipe(&out_read, &out_write) : make_terminal(&out_read, &out_write));
  if (!made) {
    *exit_code = kExitDaemon;
    *error = std::string("cannot create the tool's standard streams: ") + std::strerror(errno);
    return false;
  }
  enlarge(in_write.get());
  if (stdout_kind == StdoutKind::kPipe) enlarge(out_read.get());

  std::vector<char*> argv;
  for (const auto& arg : command.argv) argv.push_back(const_cast<char*>(arg.c_str()));
  argv.push_back(nullptr);
  // exec's failure comes back through a close-on-exec pipe: EOF means the
  // tool runs.
  UniqueFd report_read, report_write;
  if (!make_pipe(&report_read, &report_write)) {
    *exit_code = kExitDaemon;
    *error = std::string("cannot create a pipe: ") + std::strerror(errno);
    return false;
  }
  TrackChannel track;
  if (command.tracker && command.tracker->prepare(command.path, &track)) tracker_ = command.tracker;
  pid_ = fork();
  if (pid_ < 0) {
    *exit_code = kExitDaemon;
    *error = std::string("cannot fork: ") + std::strerror(errno);
    return false;
  }
  if (pid_ == 0)
    exec_child(command, argv.data(), in_read.get(), out_write.get(), err_write.get(), report_write.get(),
               tracker_ ? track.child.get() : -1);
  // Before waiting for exec, which the filter holds until the tracker answers.
  if (tracker_) tracker_->adopt(std::move(track));
  // Also from here, so that a kill of the group cannot race the child.
  setpgid(pid_, pid_);
  report_write.reset();
  int rc = 0;
  ssize_t n;
  while ((n = read(report_read.get(), &rc, sizeof rc)) < 0 && errno == EINTR) {
  }
  if (n > 0) {
    while (waitpid(pid_, nullptr, 0) < 0 && errno == EINTR) {
    }
    pid_ = -1;
    *exit_code = (rc == ENOENT || rc == ENOTDIR) ? kExitNotFound : kExitNotExecutable;
    *error = "cannot start '" + command.argv[0] + "': " + std::strerror(rc);
    return false;
  }
  struct stat st;
  if (fstat(in_write.get(), &st) == 0) stdin_inode_ = st.st_ino;
  // Looked up once: glibc checks the clock with a system call every time.
  has_cpu_clock_ = clock_getcpuclockid(pid_, &cpu_clock_) == 0;
  streams_ = {std::move(in_write), std::move(out_read), std::move(err_read)};
  return true;
}

void ChildProcess::start_up_done() {
  if (tracker_) std::exchange(tracker_, nullptr)->start_up_done();
}

void ChildProcess::kill_group() {
  if (pid_ <= 0 || reaped_) return;
  // The group may already be empty but for the leader; the leader itself is
  // killed by pid too, in case it left its group.
  ::kill(-pid_, SIGKILL);
  ::kill(pid_, SIGKILL);
}

bool ChildProcess::try_reap() {
  if (reaped_ || pid_ <= 0) return reaped_;
  int status = 0;
  pid_t rc;
  do {
    rc = waitpid(pid_, &status, WNOHANG);
  } while (rc < 0 && errno == EINTR);
  if (rc != pid_) return false;
  reaped_ = true;
  wait_status_ = status;
  // Children the tool left in its group go with it, as with a terminal's
  // hang-up: nothing may outlive an instance.
  ::kill(-pid_, SIGKILL);
  return true;
}

bool make_tool_command(const std::string& tool, const std::vector<std::string>& extra_args,
                       const std::vector<std::string>& args, bool line_buffered, ToolCommand* command, int* exit_code,
                       std::string* error) {
  ResolvedTool resolved = resolve_tool(tool);
  if (resolved.path.empty()) {
    *exit_code = resolved.exit_code;
    *error = resolved.error;
    return false;
  }
  command->argv.clear();
  command->name = tool;
  if (line_buffered) {
    ResolvedTool stdbuf = resolve_tool("stdbuf");
    if (stdbuf.path.empty()) {
      *exit_code = stdbuf.exit_code;
      *error = "-L needs stdbuf from GNU coreutils: " + stdbuf.error;
      return false;
    }
    command->path = stdbuf.path;
    command->argv = {"stdbuf", "-oL", resolved.path};
  } else {
    command->path = resolved.path;
    command->argv = {tool};
  }
  command->argv.insert(command->argv.end(), extra_args.begin(), extra_args.end());
  command->argv.insert(command->argv.end(), args.begin(), args.end());
  return true;
}

double ChildProcess::cpu_seconds() const {
  if (pid_ <= 0 || reaped_ || !has_cpu_clock_) return -1;
  return sched::clock_seconds(cpu_clock_);
}

}  // namespace viasock
