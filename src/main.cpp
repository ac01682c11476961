// viasock: keep a slow-starting filter alive behind a Unix socket.
#include <fcntl.h>

#include <exception>
#include <string>

#include "cli.h"
#include "common/error_output.h"
#include "common/exit_codes.h"

namespace {

// A caller may start us with stdin, stdout or stderr closed (`<&-`). The
// first descriptors we open would then stand in for them (reading stdin
// would read the state directory); /dev/null stands in instead, so a closed
// stdin is an empty input.
void open_missing_standard_fds() {
  for (int fd = 0; fd < 3; ++fd)
    if (fcntl(fd, F_GETFD) < 0) open("/dev/null", fd == 0 ? O_RDONLY : O_WRONLY);
}

}  // namespace

int main(int argc, char** argv) {
  open_missing_standard_fds();
  try {
    return viasock::main_with_args(argc, argv);
  } catch (const std::exception& error) {
    return viasock::print_error(viasock::kExitDaemon, std::string("internal error: ") + error.what());
  }
}
