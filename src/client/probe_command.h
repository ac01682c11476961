// `viasock probe [OPTIONS] TOOL [ARGS...] < SAMPLE`: runs the tool directly
// and through a throw-away daemon on the same sample, compares the bytes, and
// prints the `viasock run` command line that serves it (with what the daemon
// learned spelled out as options, so later daemons need not learn it), or why
// none does.
#pragma once

#include "common/run_options.h"

namespace viasock {

int probe_command(const RunOptions& options);

}  // namespace viasock
