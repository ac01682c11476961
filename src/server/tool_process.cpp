#include "server/tool_process.h"

#include <fcntl.h>
#include <spawn.h>
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

// posix_spawn's file actions, freed on every path.
class FileActions {
 public:
  FileActions() { posix_spawn_file_actions_init(&actions_); }
  ~FileActions() { posix_spawn_file_actions_destroy(&actions_); }
  FileActions(const FileActions&) = delete;
  FileActions& operator=(const FileActions&) = delete;
  posix_spawn_file_actions_t* get() { return &actions_; }

 private:
  posix_spawn_file_actions_t actions_;
};

}  // namespace

bool make_tool_command(const std::string& tool, const std::vector<std::string>& args, bool line_buffered,
                       ToolCommand* command, int* exit_code, std::string* error) {
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
  command->argv.insert(command->argv.end(), args.begin(), args.end());
  return true;
}

bool spawn_tool(const ToolCommand& command, ToolProcess* process, int* exit_code, std::string* error) {
  UniqueFd in_read, in_write, out_read, out_write, err_read, err_write;
  if (!make_pipe(&in_read, &in_write) || !make_pipe(&out_read, &out_write) || !make_pipe(&err_read, &err_write)) {
    *exit_code = kExitDaemon;
    *error = std::string("cannot create pipes for the tool: ") + std::strerror(errno);
    return false;
  }
  enlarge(in_write.get());
  enlarge(out_read.get());

  FileActions actions;
  posix_spawn_file_actions_adddup2(actions.get(), in_read.get(), 0);
  posix_spawn_file_actions_adddup2(actions.get(), out_write.get(), 1);
  posix_spawn_file_actions_adddup2(actions.get(), err_write.get(), 2);
  // Everything else of the daemon (sockets, log, other instances' pipes)
  // stays out of the tool, even descriptors a library opened without
  // close-on-exec.
  posix_spawn_file_actions_addclosefrom_np(actions.get(), 3);

  std::vector<char*> argv;
  for (const auto& arg : command.argv) argv.push_back(const_cast<char*>(arg.c_str()));
  argv.push_back(nullptr);
  pid_t pid = -1;
  int rc = posix_spawn(&pid, command.path.c_str(), actions.get(), nullptr, argv.data(), environ);
  if (rc != 0) {
    *exit_code = (rc == ENOENT || rc == ENOTDIR) ? kExitNotFound : kExitNotExecutable;
    *error = "cannot start '" + command.argv[0] + "': " + std::strerror(rc);
    return false;
  }
  process->pid = pid;
  process->stdin_pipe = std::move(in_write);
  process->stdout_pipe = std::move(out_read);
  process->stderr_pipe = std::move(err_read);
  return true;
}

}  // namespace viasock
