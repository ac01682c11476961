// How large a POSIX ERE grows when glibc compiles it. glibc expands every
// repetition into copies of what it repeats ('a{1,1000}' holds 1,000 copies
// of 'a', 'x+' two of 'x'), so a short pattern can ask for gigabytes:
// 'a{1,32767}' takes 4 GB and 15 s to compile, and each '+' stacked on
// another doubles the pattern ('N' and 22 of them: 4 million nodes). A
// record format comes from the command line and is compiled by the daemon,
// so it is measured before it is compiled.
#pragma once

#include <cstddef>
#include <string>

namespace viasock {

// The most positions a record format may expand to: far more than any
// separator line needs ('^EOS$' has 5, '^# sent_id = ' 13). Matching a line
// can cost memory quadratic in this (glibc caches a state per set of
// positions): a 20,000-byte line against '[[:alpha:]]{1,1000}b' takes
// 19 MB, against '{1,3000}' 146 MB, against '{1,9999}' 1.5 GB.
constexpr size_t kMaxRegexPositions = 1000;

// "" when `pattern` is small enough to compile; otherwise why it is not.
// Stacked repetition operators ('a+*', 'x{2}?') are undefined in POSIX EREs
// and refused whatever their size. Syntax errors are left to regcomp.
std::string check_regex_size(const std::string& pattern);

}  // namespace viasock
