// Starting a daemon in the background and waiting until it listens.
#pragma once

#include <string>

#include "common/run_options.h"
#include "common/state_dir.h"

namespace viasock {

struct SpawnResult {
  bool ready = false;
  int exit_code = 0;    // when not ready
  std::string message;  // when not ready: what went wrong, maybe with the tool's stderr
};

// Starts `viasock server` for `options` on state/sockets/<id>, detached from
// this process (own session, stdio on /dev/null and the log, only the
// descriptors it needs), and blocks until it reports through a pipe that it
// listens — or why it could not. No polling and no fixed sleeps.
SpawnResult spawn_daemon(const RunOptions& options, const StateDir& state, const std::string& id);

// The path of this viasock binary, for the processes it starts.
std::string self_executable();

}  // namespace viasock
