#include "client/manage_commands.h"

#include <dirent.h>
#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <thread>

#include "client/connector.h"
#include "common/daemon_info.h"
#include "common/error_output.h"
#include "common/exit_codes.h"
#include "common/flat_json.h"
#include "common/server_id.h"
#include "common/state_dir.h"
#include "common/unix_socket.h"
#include "common/wire.h"

namespace viasock {
namespace {

// How long `stop` waits for a daemon to finish its clients and exit.
constexpr auto kStopWait = std::chrono::seconds(30);
constexpr int kReplyTimeoutMs = 5000;

struct Registered {
  FlatJson meta;     // run/<ID>.json
  FlatJson status;   // what the daemon said, when it answered
  bool running = false;
  std::string id() const { return meta.text("id"); }
  pid_t pid() const { return static_cast<pid_t>(meta.number("pid")); }
};

// Sends `request` to the daemon on `socket_path`; its DATA into *reply.
bool ask(const std::string& socket_path, std::string_view request, std::string* reply) {
  std::string error;
  UniqueFd fd = connect_and_greet(socket_path, request, &error);
  if (!fd) return false;
  wire::FrameDecoder decoder;
  bool done = false;
  char buffer[4096];
  while (!done) {
    pollfd pfd{fd.get(), POLLIN, 0};
    if (poll(&pfd, 1, kReplyTimeoutMs) <= 0) return false;
    ssize_t n = read(fd.get(), buffer, sizeof buffer);
    if (n <= 0) return false;
    decoder.feed(std::string_view(buffer, static_cast<size_t>(n)), [&](wire::FrameType type, std::string_view bytes) {
      if (type == wire::kData) reply->append(bytes);
      if (type == wire::kExit) done = true;
    });
  }
  return true;
}

// The daemons of this host registered in the state directory (other hosts
// sharing it over NFS have their own entries, which are not ours to touch).
std::vector<Registered> registered(const StateDir& state) {
  std::vector<Registered> daemons;
  std::string host = current_context("").host;
  std::string run_dir = state.root() + "/run";
  DIR* dir = opendir(run_dir.c_str());
  if (!dir) return daemons;
  while (dirent* entry = readdir(dir)) {
    std::string name = entry->d_name;
    if (name.size() < 6 || name.substr(name.size() - 5) != ".json") continue;
    FILE* file = fopen((run_dir + "/" + name).c_str(), "re");
    if (!file) continue;
    std::string text;
    char buffer[4096];
    while (size_t n = fread(buffer, 1, sizeof buffer, file)) text.append(buffer, n);
    fclose(file);
    Registered daemon;
    if (!parse_flat_json(text, &daemon.meta) || daemon.meta.text("host") != host) continue;
    std::string reply;
    daemon.running = ask(daemon.meta.text("socket"), wire::kRequestStatus, &reply) &&
                     parse_flat_json(reply, &daemon.status);
    daemons.push_back(std::move(daemon));
  }
  closedir(dir);
  return daemons;
}

bool open_state(const ManageOptions& options, StateDir* state, int* code) {
  std::string error;
  if (state->open(choose_state_dir(options.state_dir), &error)) return true;
  *code = print_error(kExitDaemon, error);
  return false;
}

std::string duration(double seconds) {
  long s = static_cast<long>(seconds);
  char text[32];
  if (s < 60) snprintf(text, sizeof text, "%lds", s);
  else if (s < 3600) snprintf(text, sizeof text, "%ldm%02lds", s / 60, s % 60);
  else snprintf(text, sizeof text, "%ldh%02ldm", s / 3600, s / 60 % 60);
  return text;
}

std::string command_line(const Registered& daemon) {
  std::string line = daemon.meta.text("tool");
  auto it = daemon.meta.arrays.find("args");
  if (it != daemon.meta.arrays.end())
    for (const auto& arg : it->second) line += " " + arg;
  return line;
}

void print_json(const std::vector<Registered>& daemons) {
  printf("[");
  for (size_t i = 0; i < daemons.size(); ++i) {
    const Registered& d = daemons[i];
    std::string args;
    auto it = d.meta.arrays.find("args");
    if (it != d.meta.arrays.end())
      for (size_t a = 0; a < it->second.size(); ++a) args += (a ? ", " : "") + json_quote(it->second[a]);
    printf("%s\n  {\"id\": %s, \"pid\": %d, \"running\": %s, \"tool\": %s, \"args\": [%s], \"cwd\": %s, "
           "\"instances\": %s, \"clients\": %s, \"calls\": %s, \"records\": %s, \"uptime\": %s, \"idle\": %s, "
           "\"socket\": %s, \"log\": %s}",
           i ? "," : "", json_quote(d.id()).c_str(), d.pid(), d.running ? "true" : "false",
           json_quote(d.meta.text("tool")).c_str(), args.c_str(), json_quote(d.meta.text("cwd")).c_str(),
           d.meta.text("instances").c_str(), d.running ? d.status.text("clients").c_str() : "0",
           d.running ? d.status.text("calls").c_str() : "null", d.running ? d.status.text("records").c_str() : "null",
           d.running ? d.status.text("uptime").c_str() : "null", d.running ? d.status.text("idle").c_str() : "null",
           json_quote(d.meta.text("socket")).c_str(), json_quote(d.meta.text("log")).c_str());
  }
  printf("%s]\n", daemons.empty() ? "" : "\n");
}

void print_table(const std::vector<Registered>& daemons) {
  printf("%-12s %7s %3s %7s %7s %9s %7s %7s  %s\n", "ID", "PID", "J", "CLIENTS", "CALLS", "RECORDS", "UPTIME", "IDLE",
         "COMMAND / LOG");
  for (const Registered& d : daemons) {
    if (!d.running) {
      printf("%-12s %7d %3s %7s  (not running: 'viasock prune' removes it)  %s\n", d.id().substr(0, 12).c_str(),
             d.pid(), d.meta.text("instances").c_str(), "-", command_line(d).c_str());
      continue;
    }
    printf("%-12s %7d %3s %7s %7s %9s %7s %7s  %s\n%56s%s\n", d.id().substr(0, 12).c_str(), d.pid(),
           d.meta.text("instances").c_str(), d.status.text("clients").c_str(), d.status.text("calls").c_str(),
           d.status.text("records").c_str(), duration(d.status.number("uptime")).c_str(),
           duration(d.status.number("idle")).c_str(), command_line(d).c_str(), "", d.meta.text("log").c_str());
  }
}

// A zombie has exited: whoever reaps it (init, a subreaper) may be slow.
bool alive(pid_t pid) {
  if (pid <= 0 || (kill(pid, 0) != 0 && errno != EPERM)) return false;
  FILE* file = fopen(("/proc/" + std::to_string(pid) + "/stat").c_str(), "re");
  if (!file) return true;
  char state = '?';
  if (fscanf(file, "%*d (%*[^)]) %c", &state) != 1) state = '?';
  fclose(file);
  return state != 'Z' && state != 'X';
}

}  // namespace

int list_command(const ManageOptions& options) {
  StateDir state;
  int code = 0;
  if (!open_state(options, &state, &code)) return code;
  auto daemons = registered(state);
  if (options.json)
    print_json(daemons);
  else
    print_table(daemons);
  return kExitOk;
}

int stop_command(const ManageOptions& options) {
  if (!options.all && options.ids.empty())
    return print_error(kExitUsage, "name daemons by ID prefix, or give --all (see 'viasock --help')");
  StateDir state;
  int code = 0;
  if (!open_state(options, &state, &code)) return code;
  std::vector<Registered> targets;
  for (auto& daemon : registered(state)) {
    bool wanted = options.all;
    for (const auto& prefix : options.ids) wanted = wanted || daemon.id().starts_with(prefix);
    if (wanted) targets.push_back(std::move(daemon));
  }
  for (const auto& prefix : options.ids) {
    bool found = false;
    for (const auto& daemon : targets) found = found || daemon.id().starts_with(prefix);
    if (!found) code = print_error(1, "no daemon with an ID starting with '" + prefix + "'");
  }
  for (const auto& daemon : targets) {
    std::string reply;
    if (!daemon.running || !ask(daemon.meta.text("socket"), wire::kRequestStop, &reply)) continue;
    auto deadline = std::chrono::steady_clock::now() + kStopWait;
    while (alive(daemon.pid()) && std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    if (alive(daemon.pid()))
      code = print_error(1, "daemon " + daemon.id().substr(0, 12) + " is still finishing its clients");
    else
      printf("stopped %s  %s\n", daemon.id().substr(0, 12).c_str(), command_line(daemon).c_str());
  }
  return code;
}

int prune_command(const ManageOptions& options) {
  StateDir state;
  int code = 0;
  if (!open_state(options, &state, &code)) return code;
  for (const auto& daemon : registered(state)) {
    if (daemon.running || alive(daemon.pid())) continue;
    std::string id = daemon.id();
    std::string error;
    IdLock lock;
    if (!lock.acquire(state, id, &error)) return print_error(kExitDaemon, error);
    // Under the lock no daemon of this ID can be starting; one that answers
    // now was started since we looked, and stays.
    SocketAddress address;
    if (address.open(state.socket_path(id), &error) && connect_unix(address.address())) continue;
    unlinkat(state.sockets_fd(), id.c_str(), 0);
    for (const char* suffix : {".log", ".1.log", ".2.log", ".3.log"})
      unlinkat(state.logs_fd(), (id + suffix).c_str(), 0);
    remove_metadata(state, id);
    // The lock file stays: a client may hold it open, waiting, and a new
    // file of the same name would be a second, different lock.
    printf("removed %s  %s\n", id.substr(0, 12).c_str(), command_line(daemon).c_str());
  }
  return kExitOk;
}

}  // namespace viasock
