// Streams standard input to a daemon and its answers to standard output,
// both at once, with one poll(2) loop: no threads, no per-record system calls.
// An input or output file the daemon can use itself is handed over instead.
#pragma once

#include "common/attached_files.h"
#include "common/unique_fd.h"

namespace viasock {

// Runs the exchange on a socket whose HELLO has been exchanged; returns the
// exit status the daemon sent, or kExitDaemon when it went away without one.
// `log_hint` names where to look when that happens.
// `offer`: the streams to hand to the daemon (attached_files.h), which the
// greeting announced; with `verbose`, says on stderr which it took.
int pump_streams(UniqueFd socket, const char* log_hint, const AttachedStreams& offer, bool verbose = false);

}  // namespace viasock
