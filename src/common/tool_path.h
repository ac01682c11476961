// Finding the tool the way execvp(3) would, so that viasock runs exactly the
// program the shell would have run.
#pragma once

#include <string>

namespace viasock {

struct ResolvedTool {
  std::string path;   // absolute, symbolic links kept; empty on failure
  int exit_code = 0;  // kExitNotFound or kExitNotExecutable on failure
  std::string error;  // one line naming the tool
};

// Looks `tool` up through PATH (or takes it as a path when it holds a '/').
ResolvedTool resolve_tool(const std::string& tool);

}  // namespace viasock
