// Connect-or-spawn: reaching the daemon for a server ID, starting it first
// when none runs.
#pragma once

#include <string>

#include "common/run_options.h"
#include "common/state_dir.h"
#include "common/unique_fd.h"

namespace viasock {

struct Connection {
  UniqueFd socket;       // HELLO exchanged; empty on failure
  bool spawned = false;  // this call started the daemon
  int exit_code = 0;     // on failure
  std::string error;     // on failure
};

// `attach`: the call will offer files to the daemon (attached_files.h).
Connection connect_or_spawn(const RunOptions& options, const StateDir& state, const std::string& id,
                            bool attach = false);

// Connects to the socket at `path` and exchanges HELLO naming `request`
// (wire::kRequestRun, ...); on failure the returned socket is empty and
// *error says why.
UniqueFd connect_and_greet(const std::string& path, std::string_view request, std::string* error);

}  // namespace viasock
