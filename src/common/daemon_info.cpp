#include "common/daemon_info.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "common/server_id.h"
#include "common/unique_fd.h"

namespace viasock {

std::string json_quote(const std::string& text) {
  std::string out = "\"";
  for (unsigned char c : text) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\t': out += "\\t"; break;
      default:
        if (c < 0x20 || c >= 0x7f) {
          char escaped[8];
          std::snprintf(escaped, sizeof escaped, "\\u%04x", c);
          out += escaped;
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  return out + "\"";
}

namespace {

std::string to_json(const DaemonInfo& info) {
  std::string args = "[";
  for (size_t i = 0; i < info.options.args.size(); ++i)
    args += (i ? ", " : "") + json_quote(info.options.args[i]);
  args += "]";
  return "{\"id\": " + json_quote(info.id) + ", \"pid\": " + std::to_string(info.pid) +
         ", \"host\": " + json_quote(info.host) + ", \"cwd\": " + json_quote(info.cwd) +
         ", \"tool\": " + json_quote(info.options.tool) + ", \"args\": " + args +
         ", \"instances\": " + std::to_string(info.options.instances) + ", \"socket\": " + json_quote(info.socket) +
         ", \"log\": " + json_quote(info.log) + ", \"started\": " + std::to_string(info.started) + "}\n";
}

}  // namespace

bool write_metadata(const StateDir& state, const DaemonInfo& given, std::string* error) {
  DaemonInfo info = given;
  IdentityContext context = current_context("");
  info.host = context.host;
  info.cwd = context.cwd;
  std::string name = info.id + ".json";
  std::string temporary = name + ".tmp" + std::to_string(getpid());
  std::string text = to_json(info);
  UniqueFd fd(openat(state.run_fd(), temporary.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600));
  if (!fd || write(fd.get(), text.data(), text.size()) != static_cast<ssize_t>(text.size()) ||
      renameat(state.run_fd(), temporary.c_str(), state.run_fd(), name.c_str()) != 0) {
    *error = "cannot write " + state.root() + "/run/" + name + ": " + std::strerror(errno);
    unlinkat(state.run_fd(), temporary.c_str(), 0);
    return false;
  }
  return true;
}

void remove_metadata(const StateDir& state, const std::string& id) {
  std::string name = id + ".json";
  unlinkat(state.run_fd(), name.c_str(), 0);
}

}  // namespace viasock
