// How every viasock command reports a failure: one line on stderr,
// "viasock: error: WHAT", and the exit status the caller returns.
#pragma once

#include <string>

namespace viasock {

// Writes "viasock: error: <message>" (plus a newline when missing) with one
// write(2), so that lines of concurrent calls do not interleave; returns
// `code`. A multi-line message (the tool's stderr) is written as it is.
int print_error(int code, const std::string& message);

}  // namespace viasock
