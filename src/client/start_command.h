// `viasock start`: starts (or finds) the daemon for a command and returns
// once its tool is ready, so that a build can warm a slow tool while other
// work runs.
#pragma once

#include "common/run_options.h"

namespace viasock {

// Prints the daemon's ID on success. Returns the exit status.
int start_command(const RunOptions& options);

}  // namespace viasock
