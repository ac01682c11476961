// The server identity (docs/DESIGN.md, "The server identity"): which daemon serves
// a command. Two calls share a daemon exactly when they compute the same ID.
#pragma once

#include <string>
#include <vector>

#include "common/run_options.h"

namespace viasock {

// What an identity is computed from, besides the options.
struct IdentityContext {
  std::string tool_path;  // resolve_tool(options.tool).path: absolute, links kept
  std::string cwd;        // the tool runs here and resolves relative paths here
  std::string host;       // daemons of different hosts never share a socket
};

// Reads the working directory and host name of this process.
IdentityContext current_context(const std::string& tool_path);

// The NAME=VALUE entries of `env` that are part of every identity (LANG,
// LANGUAGE, LC_*, TZ, PATH, LD_*, PYTHON*, VIRTUAL_ENV, CONDA_PREFIX), sorted.
std::vector<std::string> identity_environment(char** env);

// The hex SHA-256 of the protocol version, the tool (path, size, mtime in ns),
// every argument and the size and mtime of the files they name (also the VALUE
// of --opt=VALUE), the working directory, the host, the identity options (not
// -W, -w, -j), the watched paths (recursively), the environment variables of
// identity_environment() and those named with --env.
std::string compute_server_id(const RunOptions& options, const IdentityContext& context);

}  // namespace viasock
