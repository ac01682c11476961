#include "common/daemon_info.h"

#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <nlohmann/json.hpp>

#include "common/registry.h"
#include "common/server_id.h"
#include "common/unique_fd.h"

namespace viasock {

std::string daemon_info_json(const DaemonInfo& info) {
  nlohmann::json json = {
      {"id", info.id},
      {"pid", info.pid},
      {"host", info.host},
      {"cwd", info.cwd},
      {"tool", info.options.tool},
      {"args", info.options.args},
      {"instances", info.options.instances},
      {"options", info.behaviour.empty() ? identity_args(info.options) : info.behaviour},
      {"state_dir", info.state_dir},
      {"socket", info.socket},
      {"log", info.log},
      {"started", static_cast<long long>(info.started)},
  };
  return json.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

bool parse_daemon_info(const std::string& text, DaemonInfo* info) {
  nlohmann::json json = nlohmann::json::parse(text, nullptr, false);
  if (!json.is_object() || !json.contains("id") || !json.contains("pid")) return false;
  try {
    info->id = json.at("id").get<std::string>();
    info->pid = json.at("pid").get<pid_t>();
    info->host = json.value("host", "");
    info->cwd = json.value("cwd", "");
    info->options.tool = json.value("tool", "");
    info->options.args = json.value("args", std::vector<std::string>{});
    info->options.instances = json.value("instances", 1);
    info->behaviour = json.value("options", std::vector<std::string>{});
    info->state_dir = json.value("state_dir", "");
    info->socket = json.value("socket", "");
    info->log = json.value("log", "");
    info->started = json.value("started", 0LL);
  } catch (const nlohmann::json::exception&) {
    return false;  // a field of the wrong type: not ours, or damaged
  }
  return true;
}

std::vector<std::string> json_files(int dir_fd) {
  std::vector<std::string> names;
  int copy = fcntl(dir_fd, F_DUPFD_CLOEXEC, 0);
  if (copy < 0) return names;
  DIR* dir = fdopendir(copy);
  if (!dir) {
    close(copy);
    return names;
  }
  while (dirent* entry = readdir(dir)) {
    std::string name = entry->d_name;
    if (name.size() > 5 && name.ends_with(".json")) names.push_back(name);
  }
  closedir(dir);
  return names;
}

bool read_small_file(int dir_fd, const std::string& name, std::string* text) {
  UniqueFd fd(openat(dir_fd, name.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
  if (!fd) return false;
  char buffer[4096];
  while (true) {
    ssize_t n = read(fd.get(), buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return false;
    if (n == 0) return true;
    text->append(buffer, static_cast<size_t>(n));
    if (text->size() > (1 << 20)) return false;
  }
}

bool write_file_atomically(int dir_fd, const std::string& name, const std::string& text) {
  std::string temporary = name + ".tmp" + std::to_string(getpid());
  UniqueFd fd(openat(dir_fd, temporary.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600));
  if (fd && write(fd.get(), text.data(), text.size()) == static_cast<ssize_t>(text.size()) &&
      renameat(dir_fd, temporary.c_str(), dir_fd, name.c_str()) == 0)
    return true;
  int saved = errno;
  unlinkat(dir_fd, temporary.c_str(), 0);
  errno = saved;
  return false;
}

bool write_metadata(const StateDir& state, const DaemonInfo& given, std::string* error) {
  DaemonInfo info = given;
  IdentityContext context = current_context("");
  info.host = context.host;
  info.cwd = context.cwd;
  info.state_dir = state.root();
  std::string text = daemon_info_json(info);
  std::string name = info.id + ".json";
  if (!write_file_atomically(state.run_fd(), name, text)) {
    *error = "cannot write " + state.run_path(info.id) + ": " + std::strerror(errno);
    return false;
  }
  Registry registry;
  // Best effort: without an entry the daemon works; only `list --all` misses it.
  std::string ignored;
  if (registry.open_or_create(&ignored)) registry.add(info.id, info.pid, text, &ignored);
  return true;
}

void remove_metadata(const StateDir& state, const std::string& id) {
  std::string name = id + ".json";
  unlinkat(state.run_fd(), name.c_str(), 0);
  Registry registry;
  std::string ignored;
  if (registry.open_existing(&ignored)) registry.remove_own(id);
}

}  // namespace viasock
