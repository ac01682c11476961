// The standard descriptors a caller may have left closed (`<&-`, `>&-`).
#pragma once

namespace viasock {

// Puts /dev/null on every closed standard descriptor and remembers which
// were closed. Called first thing in main(): until then the next descriptor
// opened would become stdin, stdout or stderr, and a socket on fd 1 would
// receive the answers meant for the caller.
void guard_standard_streams();

// For `run` and `client`, which read stdin and write stdout for the tool:
// 0 when the caller left both open; otherwise prints one error line naming
// the stream and returns kExitDaemon.
int refuse_closed_streams();

}  // namespace viasock
