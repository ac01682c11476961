// What the core (Instance, and through it Pool and the learner) needs of one
// process of the tool: its standard streams, whether it waits for input,
// its CPU time, its exit. ChildProcess is the real one; the core's unit
// tests put a scripted fake behind it (tests/unit/core_harness.h), so that
// what the pool decides is tested without starting a process.
#pragma once

#include <sys/types.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "common/unique_fd.h"
#include "server/quiescence.h"

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

class ToolProcess {
 public:
  virtual ~ToolProcess() = default;

  // Starts `command`. On failure returns false with the exit status a shell
  // would give (126/127, or 125 when viasock itself failed) and one line.
  virtual bool spawn(const ToolCommand& command, StdoutKind stdout_kind, int* exit_code, std::string* error) = 0;
  // Our ends of its standard streams, handed over once after spawn().
  struct Streams {
    UniqueFd in, out, err;
  };
  virtual Streams take_streams() = 0;

  virtual pid_t pid() const = 0;
  // Whether it waits for input now (quiescence.h).
  virtual ToolActivity activity() const = 0;
  // The CPU time it has used so far, in seconds; < 0 once it is gone or
  // when not readable.
  virtual double cpu_seconds() const = 0;
  // It waits for input for the first time: its start-up is over.
  virtual void start_up_done() = 0;

  // SIGKILL to the whole process group.
  virtual void kill_group() = 0;
  // Non-blocking waitpid; true once the process was reaped.
  virtual bool try_reap() = 0;
  virtual bool reaped() const = 0;
  // The wait(2) status once reaped.
  virtual int wait_status() const = 0;
};

// Makes the process object for each instance the pool starts.
using ToolLauncher = std::function<std::unique_ptr<ToolProcess>()>;

}  // namespace viasock
