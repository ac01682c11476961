// The server identity (docs/DESIGN.md, "The server identity"): which daemon serves
// a command. Two calls share a daemon exactly when they compute the same ID.
#pragma once

#include <string>

#include "common/run_options.h"

namespace viasock {

// What an identity is computed from, besides the options.
struct IdentityContext {
  std::string tool_path;  // resolve_tool(options.tool).path
  std::string cwd;        // the tool runs here and resolves relative paths here
  std::string host;       // daemons of different hosts never share a socket
};

// Reads the working directory and host name of this process.
IdentityContext current_context(const std::string& tool_path);

// The hex SHA-256 of the protocol version, the tool (path, size, mtime in ns),
// every argument and the size and mtime of the files they name (also the VALUE
// of --opt=VALUE), the working directory, the host, the behaviour options, the
// watched paths (recursively) and the named environment variables.
std::string compute_server_id(const RunOptions& options, const IdentityContext& context);

}  // namespace viasock
