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
#include "server/tool_process.h"

namespace viasock {

class ChildProcess final : public ToolProcess {
 public:
  ChildProcess() = default;
  // Kills the whole group and reaps the child if nobody did: a child object
  // never leaves a zombie or a stray process behind.
  ~ChildProcess() override;
  ChildProcess(ChildProcess&& other) noexcept;
  ChildProcess& operator=(ChildProcess&&) = delete;
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  bool spawn(const ToolCommand& command, StdoutKind stdout_kind, int* exit_code, std::string* error) override;
  Streams take_streams() override { return std::move(streams_); }

  pid_t pid() const override { return pid_; }
  // Observed through /proc (quiescence.h), its stdin pipe known by inode.
  ToolActivity activity() const override { return observe_tool(pid_, stdin_inode_); }
  // All its threads, not its own children.
  double cpu_seconds() const override;
  void start_up_done() override;

  void kill_group() override;
  bool try_reap() override;
  bool reaped() const override { return reaped_; }
  int wait_status() const override { return wait_status_; }

 private:
  pid_t pid_ = -1;
  Streams streams_;
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
                       const std::vector<std::string>& args, bool line_buffered, ToolCommand* command, int* exit_code,
                       std::string* error);

}  // namespace viasock
