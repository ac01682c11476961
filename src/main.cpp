// viasock: keep a slow-starting filter alive behind a Unix socket.
#include <exception>
#include <string>

#include "cli.h"
#include "common/error_output.h"
#include "common/exit_codes.h"
#include "common/standard_streams.h"

int main(int argc, char** argv) {
  viasock::guard_standard_streams();
  try {
    return viasock::main_with_args(argc, argv);
  } catch (const std::exception& error) {
    return viasock::print_error(viasock::kExitDaemon, std::string("internal error: ") + error.what());
  }
}
