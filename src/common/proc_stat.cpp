#include "common/proc_stat.h"

#include <fcntl.h>

#include "common/daemon_info.h"

namespace viasock {

std::string_view stat_fields(std::string_view stat) {
  size_t paren = stat.rfind(')');
  if (paren == std::string_view::npos || paren + 2 >= stat.size()) return {};
  return stat.substr(paren + 2);
}

char parse_stat_state(std::string_view stat) {
  std::string_view fields = stat_fields(stat);
  return fields.empty() ? '?' : fields.front();
}

std::string read_process_stat(pid_t pid) {
  std::string text;
  if (pid <= 0 || !read_small_file(AT_FDCWD, "/proc/" + std::to_string(pid) + "/stat", &text)) return "";
  return text;
}

char process_state(pid_t pid) { return parse_stat_state(read_process_stat(pid)); }

}  // namespace viasock
