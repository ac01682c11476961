#include "common/standard_streams.h"

#include <fcntl.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "common/error_output.h"
#include "common/exit_codes.h"

namespace viasock {
namespace {

bool closed_input = false;
bool closed_output = false;

}  // namespace

void guard_standard_streams() {
  for (int fd = 0; fd < 3; ++fd) {
    if (fcntl(fd, F_GETFD) >= 0) continue;
    if (fd == 0) closed_input = true;
    if (fd == 1) closed_output = true;
    open("/dev/null", fd == 0 ? O_RDONLY : O_WRONLY);
  }
}

int refuse_closed_streams() {
  // A direct run of a filter fails on a closed stdin or stdout: `cat` and
  // `sed` even with nothing to write (they look at stdout at start or close
  // it at exit), others only once they write. viasock cannot know which
  // kind the tool is, and /dev/null in their place would turn the failure
  // into success with no output, so a call with one of them closed always
  // fails, before any input is read or any daemon reached. A closed stderr
  // stays /dev/null: tools run fine without it, and so does a direct run.
  std::string reason = std::strerror(EBADF);
  if (closed_input) return print_error(kExitDaemon, "cannot read standard input: " + reason);
  if (closed_output) return print_error(kExitDaemon, "cannot write standard output: " + reason);
  return 0;
}

}  // namespace viasock
