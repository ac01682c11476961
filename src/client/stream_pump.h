// Streams standard input to a daemon and its answers to standard output,
// both at once, with one poll(2) loop: no threads, no per-record system calls.
#pragma once

#include "common/unique_fd.h"

namespace viasock {

// Runs the exchange on a socket whose HELLO has been exchanged; returns the
// exit status the daemon sent, or kExitDaemon when it went away without one.
// `log_hint` names where to look when that happens.
int pump_streams(UniqueFd socket, const char* log_hint);

}  // namespace viasock
