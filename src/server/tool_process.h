// Starting one instance of the tool with pipes on its stdin, stdout and
// stderr. Only those three descriptors reach the tool.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "common/unique_fd.h"

namespace viasock {

struct ToolCommand {
  std::string path;               // absolute path to execute
  std::vector<std::string> argv;  // argv[0] is the name the user gave
};

struct ToolProcess {
  pid_t pid = -1;
  UniqueFd stdin_pipe, stdout_pipe, stderr_pipe;  // our ends
};

// The command to run: the tool itself, or with -L the tool under
// `stdbuf -oL` so that its C stdio flushes each line into the pipe.
bool make_tool_command(const std::string& tool, const std::vector<std::string>& args, bool line_buffered,
                       ToolCommand* command, int* exit_code, std::string* error);

// Spawns the command. On failure returns false with the exit status a shell
// would give (126/127) and a one-line reason.
bool spawn_tool(const ToolCommand& command, ToolProcess* process, int* exit_code, std::string* error);

}  // namespace viasock
