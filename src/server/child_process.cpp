#include "server/child_process.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "common/exit_codes.h"
#include "common/tool_path.h"

extern char** environ;

namespace viasock {
namespace {

// Bigger pipes let a fast tool run ahead of us; the default 64 KiB costs
// throughput. Failure (a lower system limit) only costs speed.
void enlarge(int fd) { fcntl(fd, F_SETPIPE_SZ, 1 << 20); }

bool make_pipe(UniqueFd* read_end, UniqueFd* write_end) {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) return false;
  read_end->reset(fds[0]);
  write_end->reset(fds[1]);
  return true;
}

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

// posix_spawn's file actions and attributes, freed on every path.
class SpawnSetup {
 public:
  SpawnSetup() {
    posix_spawn_file_actions_init(&actions_);
    posix_spawnattr_init(&attributes_);
  }
  ~SpawnSetup() {
    posix_spawn_file_actions_destroy(&actions_);
    posix_spawnattr_destroy(&attributes_);
  }
  SpawnSetup(const SpawnSetup&) = delete;
  SpawnSetup& operator=(const SpawnSetup&) = delete;
  posix_spawn_file_actions_t* actions() { return &actions_; }
  posix_spawnattr_t* attributes() { return &attributes_; }

 private:
  posix_spawn_file_actions_t actions_;
  posix_spawnattr_t attributes_;
};

// As a shell would start it: every signal at its default, none blocked, and
// a process group of its own.
int set_up_attributes(posix_spawnattr_t* attributes) {
  sigset_t all, none;
  sigfillset(&all);
  sigemptyset(&none);
  int rc = posix_spawnattr_setsigdefault(attributes, &all);
  if (rc == 0) rc = posix_spawnattr_setsigmask(attributes, &none);
  if (rc == 0) rc = posix_spawnattr_setpgroup(attributes, 0);
  if (rc == 0)
    rc = posix_spawnattr_setflags(attributes, POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETPGROUP);
  return rc;
}

int set_up_files(posix_spawn_file_actions_t* actions, int in, int out, int err) {
  int rc = posix_spawn_file_actions_adddup2(actions, in, 0);
  if (rc == 0) rc = posix_spawn_file_actions_adddup2(actions, out, 1);
  if (rc == 0) rc = posix_spawn_file_actions_adddup2(actions, err, 2);
  // Everything else of the daemon (sockets, log, other instances' pipes)
  // stays out of the tool, even descriptors a library opened without
  // close-on-exec.
  if (rc == 0) rc = posix_spawn_file_actions_addclosefrom_np(actions, 3);
  return rc;
}

}  // namespace

ChildProcess::ChildProcess(ChildProcess&& other) noexcept
    : stdin_fd(std::move(other.stdin_fd)),
      stdout_fd(std::move(other.stdout_fd)),
      stderr_fd(std::move(other.stderr_fd)),
      pid_(std::exchange(other.pid_, -1)),
      reaped_(other.reaped_),
      wait_status_(other.wait_status_),
      stdin_inode_(other.stdin_inode_) {}

ChildProcess::~ChildProcess() {
  if (pid_ <= 0 || reaped_) return;
  kill_group();
  while (waitpid(pid_, nullptr, 0) < 0 && errno == EINTR) {
  }
}

bool ChildProcess::spawn(const ToolCommand& command, StdoutKind stdout_kind, int* exit_code, std::string* error) {
  UniqueFd in_read, in_write, out_read, out_write, err_read, err_write;
  bool made = make_pipe(&in_read, &in_write) && make_pipe(&err_read, &err_write) &&
              (stdout_kind == StdoutKind::kPipe ? make_pipe(&out_read, &out_write)
                                                : make_terminal(&out_read, &out_write));
  if (!made) {
    *exit_code = kExitDaemon;
    *error = std::string("cannot create the tool's standard streams: ") + std::strerror(errno);
    return false;
  }
  enlarge(in_write.get());
  if (stdout_kind == StdoutKind::kPipe) enlarge(out_read.get());

  SpawnSetup setup;
  int rc = set_up_attributes(setup.attributes());
  if (rc == 0) rc = set_up_files(setup.actions(), in_read.get(), out_write.get(), err_write.get());
  std::vector<char*> argv;
  for (const auto& arg : command.argv) argv.push_back(const_cast<char*>(arg.c_str()));
  argv.push_back(nullptr);
  if (rc == 0) rc = posix_spawn(&pid_, command.path.c_str(), setup.actions(), setup.attributes(), argv.data(), environ);
  if (rc != 0) {
    pid_ = -1;
    *exit_code = (rc == ENOENT || rc == ENOTDIR) ? kExitNotFound : kExitNotExecutable;
    *error = "cannot start '" + command.argv[0] + "': " + std::strerror(rc);
    return false;
  }
  struct stat st;
  if (fstat(in_write.get(), &st) == 0) stdin_inode_ = st.st_ino;
  stdin_fd = std::move(in_write);
  stdout_fd = std::move(out_read);
  stderr_fd = std::move(err_read);
  return true;
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
                       const std::vector<std::string>& args, bool line_buffered, ToolCommand* command,
                       int* exit_code, std::string* error) {
  ResolvedTool resolved = resolve_tool(tool);
  if (resolved.path.empty()) {
    *exit_code = resolved.exit_code;
    *error = resolved.error;
    return false;
  }
  command->argv.clear();
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

}  // namespace viasock
