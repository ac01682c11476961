#include "client/daemon_list.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <sstream>
#include <cerrno>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <set>

#include "client/status_query.h"
#include "common/daemon_info.h"
#include "common/proc_stat.h"
#include "common/registry.h"
#include "common/server_id.h"
#include "common/state_dir.h"

namespace viasock {
namespace {

bool read_info(int dir_fd, const std::string& name, DaemonInfo* info) {
  std::string text;
  return read_small_file(dir_fd, name, &text) && parse_daemon_info(text, info);
}

void add_local(const StateDir& state, const std::string& host, std::vector<KnownDaemon>* daemons) {
  if (state.run_fd() < 0) return;
  for (const std::string& name : json_files(state.run_fd())) {
    KnownDaemon daemon;
    // Other hosts sharing the directory over NFS have their own entries,
    // which are not ours to touch.
    if (!read_info(state.run_fd(), name, &daemon.info) || daemon.info.host != host) continue;
    daemon.info.state_dir = state.root();
    daemon.info.socket = state.socket_path(daemon.info.id);
    daemon.local = true;
    daemons->push_back(std::move(daemon));
  }
}

void add_registered(const Registry& registry, const std::string& host, std::vector<KnownDaemon>* daemons) {
  std::set<std::pair<std::string, pid_t>> known;
  for (const KnownDaemon& d : *daemons) known.insert({d.info.id, d.info.pid});
  for (const std::string& name : registry.entries()) {
    KnownDaemon daemon;
    if (!read_info(registry.fd(), name, &daemon.info) || daemon.info.host != host) continue;
    daemon.registry_entry = name;
    if (known.count({daemon.info.id, daemon.info.pid})) {
      for (KnownDaemon& d : *daemons)
        if (d.info.id == daemon.info.id && d.info.pid == daemon.info.pid) d.registry_entry = name;
      continue;
    }
    daemons->push_back(std::move(daemon));
  }
}

}  // namespace

std::optional<DaemonStatus> parse_status(const std::string& text) {
  nlohmann::json json = nlohmann::json::parse(text, nullptr, false);
  if (!json.is_object()) return std::nullopt;
  DaemonStatus status;
  try {
    status.draining = json.value("draining", false);
    status.state = json.value("state", status.draining ? "draining" : "ready");
    status.clients = json.value("clients", 0LL);
    status.calls = json.value("calls", 0LL);
    status.records = json.value("records", 0LL);
    status.uptime = json.value("uptime", 0.0);
    status.idle = json.value("idle", 0.0);
    status.instances = json.value("instances", 0);
    status.min_instances = json.value("min_instances", status.instances);
    status.max_instances = json.value("max_instances", status.instances);
    status.learned = json.value("learned", "");
    status.learning_done = json.value("learning_done", false);
    status.remembered = json.value("remembered", false);
    status.stateful = json.value("stateful", false);
    status.tracking = json.value("tracking", "");
    status.tracking_problem = json.value("tracking_problem", "");
    status.tracked_count = json.value("tracked_count", 0LL);
    status.tracked = json.value("tracked", std::vector<std::string>{});
  } catch (const nlohmann::json::exception&) {
    return std::nullopt;
  }
  return status;
}

std::string KnownDaemon::state() const {
  if (status) return status->state;
  return alive ? "not answering" : "not running";
}

bool process_alive(pid_t pid) {
  if (pid <= 0 || (kill(pid, 0) != 0 && errno != EPERM)) return false;
  // A zombie has exited: whoever reaps it (init, a subreaper) may be slow.
  return !state_has_exited(process_state(pid));
}

namespace {

// When process `pid` started, in seconds since the epoch, or -1.
double process_start_time(pid_t pid) {
  std::string text = read_process_stat(pid);
  // Field 22, starttime, is the 20th from the state letter (field 3) on.
  std::istringstream fields{std::string(stat_fields(text))};
  std::string field;
  for (int i = 0; i < 20 && fields >> field; ++i) {
  }
  if (!fields) return -1;
  // The start is counted on the boot-time clock: the boot's moment on the
  // wall clock, to the microsecond, is the difference of the two clocks now.
  timespec wall{}, boot{};
  clock_gettime(CLOCK_REALTIME, &wall);
  clock_gettime(CLOCK_BOOTTIME, &boot);
  double boot_time = static_cast<double>(wall.tv_sec - boot.tv_sec) + (wall.tv_nsec - boot.tv_nsec) / 1e9;
  char* end = nullptr;
  double ticks = std::strtod(field.c_str(), &end);
  if (end == field.c_str()) return -1;
  return boot_time + ticks / static_cast<double>(sysconf(_SC_CLK_TCK));
}

// A pid recorded for a daemon may belong to another process by now (the
// daemon was killed with -9 and the pid reused): one that started after the
// daemon registered is not it. (The registration time is in whole seconds.)
bool is_that_daemon(const KnownDaemon& d) {
  if (!process_alive(d.info.pid)) return false;
  double started = process_start_time(d.info.pid);
  return started < 0 || d.info.started == 0 || started <= static_cast<double>(d.info.started) + 2;
}

}  // namespace

bool find_daemons(const DaemonScope& scope, std::vector<KnownDaemon>* daemons, std::string* error) {
  std::string host = current_context("").host;
  StateDir state;
  if (state.open_existing(choose_state_dir(scope.state_dir), error))
    add_local(state, host, daemons);
  else if (!error->empty())
    return false;
  if (scope.everywhere) {
    Registry registry;
    bool opened = registry.open_existing(error);
    if (!registry.note().empty()) std::fprintf(stderr, "viasock: note: %s\n", registry.note().c_str());
    if (opened)
      add_registered(registry, host, daemons);
    else if (!error->empty())
      return false;
  }
  for (KnownDaemon& d : *daemons) d.alive = is_that_daemon(d);
  std::stable_sort(daemons->begin(), daemons->end(), [](const KnownDaemon& a, const KnownDaemon& b) {
    return std::tie(a.info.cwd, a.info.started, a.info.id) < std::tie(b.info.cwd, b.info.started, b.info.id);
  });
  return true;
}

void ask_all(std::vector<KnownDaemon>& daemons, std::string_view request, std::chrono::milliseconds timeout) {
  std::vector<std::string> sockets;
  std::vector<KnownDaemon*> asked;
  for (KnownDaemon& d : daemons) {
    if (!d.alive) continue;
    sockets.push_back(d.info.socket);
    asked.push_back(&d);
  }
  auto replies = ask_daemons(sockets, request, timeout);
  for (size_t i = 0; i < replies.size(); ++i)
    if (replies[i]) asked[i]->status = parse_status(*replies[i]);
}

std::string command_line(const DaemonInfo& info) {
  std::string line = info.options.tool;
  for (const auto& arg : info.options.args) line += " " + arg;
  return line;
}

std::string distinguishing_options(const DaemonInfo& info) {
  std::vector<std::string> defaults = behaviour_args(RunOptions{});
  std::string text;
  const auto& given = info.behaviour;
  for (size_t i = 0; i < given.size(); ++i) {
    // Options come as "-X VALUE" pairs or single flags; a pair equal to a
    // default pair is left out.
    bool pair = i + 1 < given.size() && !given[i + 1].starts_with("-");
    bool is_default = false;
    for (size_t k = 0; pair && k + 1 < defaults.size(); ++k)
      is_default = is_default || (defaults[k] == given[i] && defaults[k + 1] == given[i + 1]);
    if (!is_default) text += (text.empty() ? "" : " ") + given[i] + (pair ? " " + given[i + 1] : "");
    if (pair) ++i;
  }
  return text;
}

}  // namespace viasock
