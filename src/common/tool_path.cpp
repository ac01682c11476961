#include "common/tool_path.h"

#include <limits.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "common/exit_codes.h"

namespace viasock {
namespace {

enum class Probe { kRunnable, kMissing, kNotRunnable };

Probe probe(const std::string& candidate) {
  struct stat st;
  if (stat(candidate.c_str(), &st) != 0) return Probe::kMissing;
  if (S_ISDIR(st.st_mode) || access(candidate.c_str(), X_OK) != 0) return Probe::kNotRunnable;
  return Probe::kRunnable;
}

// Absolute, but symbolic links are not resolved: a virtualenv's bin/python3
// is a link to /usr/bin/python3 and still another tool (Python finds its
// environment from the path it was started as).
ResolvedTool found(const std::string& candidate) {
  if (candidate.front() == '/') return {candidate, 0, ""};
  char cwd[PATH_MAX];
  if (!getcwd(cwd, sizeof cwd))
    return {"", kExitNotFound, "cannot resolve '" + candidate + "': " + std::strerror(errno)};
  std::string relative = candidate.starts_with("./") ? candidate.substr(2) : candidate;
  return {std::string(cwd) + "/" + relative, 0, ""};
}

// As the shell, PATH does not include the working directory; a user who
// names a script there without "./" is told how to name it.
std::string in_this_directory(const std::string& tool) {
  struct stat st;
  if (stat(tool.c_str(), &st) != 0 || S_ISDIR(st.st_mode)) return "";
  switch (probe(tool)) {
    case Probe::kRunnable: return "; to run the one in this directory, say './" + tool + "'";
    case Probe::kNotRunnable:
      return "; './" + tool + "' in this directory is not executable (chmod +x, or name its interpreter first)";
    case Probe::kMissing: break;
  }
  return "";
}

}  // namespace

ResolvedTool resolve_tool(const std::string& tool) {
  if (tool.empty()) return {"", kExitNotFound, "the tool name is empty"};
  if (tool.find('/') != std::string::npos) {
    switch (probe(tool)) {
      case Probe::kRunnable: return found(tool);
      case Probe::kMissing: return {"", kExitNotFound, "tool '" + tool + "' not found"};
      case Probe::kNotRunnable: return {"", kExitNotExecutable, "tool '" + tool + "' is not executable"};
    }
  }
  const char* env_path = getenv("PATH");
  std::string path = env_path ? env_path : "/usr/local/bin:/usr/bin:/bin";
  std::string not_runnable;
  size_t start = 0;
  while (start <= path.size()) {
    size_t colon = path.find(':', start);
    if (colon == std::string::npos) colon = path.size();
    std::string dir = path.substr(start, colon - start);
    std::string candidate = (dir.empty() ? "." : dir) + "/" + tool;
    Probe result = probe(candidate);
    if (result == Probe::kRunnable) return found(candidate);
    // Like execvp: a match without execute permission only counts when
    // nothing later in PATH is runnable.
    if (result == Probe::kNotRunnable && not_runnable.empty()) not_runnable = candidate;
    start = colon + 1;
  }
  if (!not_runnable.empty()) return {"", kExitNotExecutable, "tool '" + not_runnable + "' is not executable"};
  return {"", kExitNotFound, "tool '" + tool + "' not found in PATH" + in_this_directory(tool)};
}

}  // namespace viasock
