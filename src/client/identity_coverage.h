// What a daemon's identity covers, for `run -v` on a new daemon and
// `list -v`: the tool, the files its arguments name, the files it read at
// start (or why not), watched paths and variables. Whatever is not listed
// can change without a new daemon.
#pragma once

#include <string>
#include <vector>

#include "client/daemon_list.h"
#include "common/run_options.h"

namespace viasock {

// One line each, without a prefix. `status` may be null (the daemon did not
// answer); with `list_files` every file read at start gets a line of its own.
std::vector<std::string> identity_coverage(const RunOptions& options, const DaemonStatus* status, bool list_files);

}  // namespace viasock
