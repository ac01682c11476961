// Closing what a child must not inherit, between fork and exec: a daemon or
// a tool that outlives its caller must not hold the caller's pipes (a make
// jobserver, a $(...) substitution) or the daemon's sockets and other
// instances' pipes, even those a library opened without close-on-exec.
#pragma once

namespace viasock {

// Closes every descriptor from `first` on except `keep` (none when `keep` is
// below `first`). Async-signal-safe: it runs in the child after fork.
// close_range(2) needs Linux 5.9; on older kernels a loop up to the
// descriptor limit does the same.
void close_descriptors_from(int first, int keep = -1);

}  // namespace viasock
