// What an instance's tool writes to its stderr: cut into lines, so that each
// line goes whole to one place (a caller, or the log), with the last lines
// kept for the message when the tool fails.
#pragma once

#include <sys/types.h>

#include <functional>
#include <string>
#include <string_view>

namespace viasock {

class ToolStderr {
 public:
  // `deliver` gets each complete line (with its newline), or a piece of 4 KiB
  // of a longer one; every line also goes to the log.
  using Deliver = std::function<void(std::string_view line)>;

  void feed(std::string_view bytes, pid_t pid, const Deliver& deliver);
  // The tool is gone: an unterminated last line is passed on as it is.
  void flush(pid_t pid, const Deliver& deliver);
  // Its last ten lines at most, for an error message.
  std::string tail() const;

 private:
  void emit(pid_t pid, const Deliver& deliver);

  std::string line_, tail_;
};

}  // namespace viasock
