#include "common/error_output.h"

#include <unistd.h>

namespace viasock {

int print_error(int code, const std::string& message) {
  std::string line = "viasock: error: " + message;
  if (line.back() != '\n') line += '\n';
  (void)!write(STDERR_FILENO, line.data(), line.size());
  return code;
}

}  // namespace viasock
