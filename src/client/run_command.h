// `viasock run` and `viasock client`: the thin client.
#pragma once

#include <string>

#include "common/run_options.h"

namespace viasock {

// Serves stdin through the daemon for options.tool, starting it if needed.
// Returns the exit status (common/exit_codes.h).
int run_command(const RunOptions& options);

// Streams stdin/stdout through the daemon listening on `socket_path`.
int client_command(const std::string& socket_path);

}  // namespace viasock
