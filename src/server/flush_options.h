// What viasock knows about the buffering of a few common tools. A tool that
// buffers its output on a pipe waits with its answers until its buffer fills,
// which a daemon keeping it alive never lets happen.
#pragma once

#include <string>
#include <vector>

namespace viasock {

// Options that make the tool flush every line on a pipe and change nothing
// else in its output; a daemon learning a tool adds them (mawk buffers even on
// a terminal; jq and grep colour their output on one). Empty for other tools.
std::vector<std::string> automatic_flush_args(const std::string& tool);

// The tool's own option to flush each line, for error messages ("python3
// -u"), or "" when viasock knows none.
std::string flush_option_hint(const std::string& tool);

}  // namespace viasock
