// How `viasock list` prints daemons: a table for people, JSON for programs.
#pragma once

#include <vector>

#include "client/daemon_list.h"

namespace viasock {

// One row per daemon; with `wide`, also the directory it serves; with
// `verbose`, what its identity covers (identity_coverage.h).
void print_daemon_table(const std::vector<KnownDaemon>& daemons, bool wide, bool verbose = false);
// A JSON array with every field of every daemon.
void print_daemon_json(const std::vector<KnownDaemon>& daemons);

}  // namespace viasock
