// One process of the tool, started as a direct run would start it: default
// signal dispositions and an empty signal mask (the daemon ignores SIGPIPE and
// blocks signals for its event loop; a tool must not inherit either), its own
// process group (so that stopping or killing it also ends its children), and
// only stdin, stdout and stderr open (see exec_child in child_process.cpp). Stdout is a pipe, or a pseudo-terminal
// in raw mode for tools that flush only on a terminal.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "common/unique_fd.h"

namespace viasock {

class StartTracker;

struct ToolCommand {
  std::string path;               // absolute path to execute
  std::vector<std::string> argv;  // argv[0] is the name the user gave, or stdbuf with -L
  std::string name;               // the tool as the user named it, for messages
  // Records what the tool reads at start (null: --no-track).
  StartTracker* tracker = nullptr;
};

enum class StdoutKind { kPipe, kTerminal };

class ChildProcess {
 public:
  ChildProcess() = default;
  // Kills the whole group and reaps the child if nobody did: a child object
  // never leaves a zombie or a stray process behind.
  ~ChildProcess();
  ChildProcess(ChildProcess&& other) noexcept;
  ChildProcess& operator=(ChildProcess&&) = delete;
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  // Starts `command`. On failure returns false with the exit status a shell
  // would give (126/127, or 125 when viasock itself failed) and one line.
  bool spawn(const ToolCommand& command, StdoutKind stdout_kind, int* exit_code, std::string* error);

  pid_t pid() const { return pid_; }
  // The CPU time the child has used so far (all its threads, not its own
  // children), in seconds; < 0 once it is gone or when not readable.
  double cpu_seconds() const;
  bool reaped() const { return reaped_; }
  int wait_status() const { return wait_status_; }
  // The inode of the stdin pipe, to recognise a read on it in /proc.
  ino_t stdin_inode() const { return stdin_inode_; }

  // Our ends of the standard streams; the caller takes them once.
  UniqueFd stdin_fd, stdout_fd, stderr_fd;

  // The tool waits for input for the first time: its start-up is over.
  void start_up_done();

  // SIGKILL to the whole process group.
  void kill_group();
  // Non-blocking waitpid; true once the child was reaped.
  bool try_reap();

 private:
  pid_t pid_ = -1;
  bool reaped_ = false;
  int wait_status_ = 0;
  ino_t stdin_inode_ = 0;
  clockid_t cpu_clock_{};
  bool has_cpu_clock_ = false;
  StartTracker* tracker_ = nullptr;  // set when this start is tracked
};

// The command to run: the tool itself with `extra_args` first, or with -L
// the tool under `stdbuf -oL` so that its C stdio flushes each line.
bool make_tool_command(const std::string& tool, const std::vector<std::string>& extra_args,
                       const std::vector<std::string>& args, bool line_buffered, ToolCommand* command,
                       int* exit_code, std::string* error);

}  // namespace viasock
