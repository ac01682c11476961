// `viasock server`: the daemon's entry point.
#pragma once

#include <string>

#include "common/run_options.h"

namespace viasock {

// Runs the daemon for `options` on `socket_path`. With a state directory it
// logs to logs/<ID>.log (or -l) and registers in run/; without, it logs to
// stderr (or -l) in the foreground. `ready_fd` (or -1) receives the readiness
// report a spawning client waits for.
int server_command(const RunOptions& options, const std::string& socket_path, const std::string& state_dir,
                   int ready_fd);

}  // namespace viasock
