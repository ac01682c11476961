#include "client/manage_commands.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <thread>

#include "client/daemon_list.h"
#include "client/list_output.h"
#include "common/error_output.h"
#include "common/exit_codes.h"
#include "common/wire.h"

namespace viasock {
namespace {

// A daemon answers from its event loop within milliseconds; one that has not
// answered in this time is stopped, swapped out or wedged.
constexpr auto kAnswerTimeout = std::chrono::milliseconds(1000);
// How long `stop` waits for daemons to finish their clients and exit.
constexpr auto kStopWait = std::chrono::seconds(30);
// A daemon that did not answer may be exiting already (another `stop` got
// there first, as when `parallel --nonall` runs one per node on a shared
// host, and its socket is gone): `stop` waits this long for it too.
constexpr auto kExitingWait = std::chrono::seconds(3);

std::string short_id(const KnownDaemon& d) { return d.info.id.substr(0, 12); }

// The daemons named by ID prefix (looked up everywhere: an ID is unique) or,
// with --all, every daemon in scope. Reports prefixes that match nothing.
bool select_targets(const ManageOptions& options, const char* command, std::vector<KnownDaemon>* targets, int* code) {
  if (!options.all && options.ids.empty()) {
    *code = print_error(kExitUsage,
                        std::string("name daemons by ID prefix, or give --all (see 'viasock ") + command + " --help')");
    return false;
  }
  DaemonScope scope{options.state_dir, options.everywhere || !options.ids.empty()};
  std::vector<KnownDaemon> daemons;
  std::string error;
  if (!find_daemons(scope, &daemons, &error)) {
    *code = print_error(kExitDaemon, error);
    return false;
  }
  for (const auto& prefix : options.ids) {
    bool found = false;
    for (const auto& d : daemons) found = found || d.info.id.starts_with(prefix);
    if (!found)
      *code = print_error(1, "no daemon with an ID starting with '" + prefix + "' (see 'viasock list --all')");
  }
  for (auto& d : daemons) {
    bool wanted = options.all && (options.everywhere || d.local);
    for (const auto& prefix : options.ids) wanted = wanted || d.info.id.starts_with(prefix);
    if (wanted && d.alive) targets->push_back(std::move(d));
  }
  return true;
}

}  // namespace

int list_command(const ManageOptions& options) {
  std::vector<KnownDaemon> daemons;
  std::string error;
  if (!find_daemons({options.state_dir, options.all}, &daemons, &error)) return print_error(kExitDaemon, error);
  if (options.ids_only) {
    for (const auto& d : daemons) printf("%s\n", short_id(d).c_str());
    return kExitOk;
  }
  ask_all(daemons, wire::kRequestStatus, kAnswerTimeout);
  if (options.json) {
    print_daemon_json(daemons);
  } else {
    print_daemon_table(daemons, options.all, options.verbose);
    if (daemons.empty() && !options.all) {
      std::vector<KnownDaemon> elsewhere;
      if (find_daemons({options.state_dir, true}, &elsewhere, &error) && !elsewhere.empty())
        fprintf(stderr, "viasock: %zu daemon(s) in other directories: 'viasock list --all' shows them\n",
                elsewhere.size());
    }
  }
  return kExitOk;
}

int stop_command(const ManageOptions& options) {
  int code = kExitOk;
  std::vector<KnownDaemon> targets;
  if (!select_targets(options, "stop", &targets, &code)) return code;
  ask_all(targets, wire::kRequestStop, kAnswerTimeout);
  auto start = std::chrono::steady_clock::now();
  auto waiting_for = [&](const KnownDaemon& d) {
    return std::chrono::steady_clock::now() - start < (d.status ? kStopWait : kExitingWait) &&
           process_alive(d.info.pid);
  };
  while (std::any_of(targets.begin(), targets.end(), waiting_for))
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  for (const auto& d : targets) {
    if (!process_alive(d.info.pid))
      printf("stopped %s  %s\n", short_id(d).c_str(), command_line(d.info).c_str());
    else if (!d.status)
      code = print_error(1, "daemon " + short_id(d) + " (pid " + std::to_string(d.info.pid) +
                                ") is not answering; 'kill " + std::to_string(d.info.pid) + "' ends it");
    else
      code = print_error(1, "daemon " + short_id(d) + " is still finishing its clients");
  }
  return code;
}

int restart_command(const ManageOptions& options) {
  int code = kExitOk;
  std::vector<KnownDaemon> targets;
  if (!select_targets(options, "restart", &targets, &code)) return code;
  ask_all(targets, wire::kRequestRestart, kAnswerTimeout);
  for (const auto& d : targets) {
    if (!d.status)
      code = print_error(1, "daemon " + short_id(d) + " (pid " + std::to_string(d.info.pid) + ") is not answering");
    else if (d.status->draining)
      code = print_error(1, "daemon " + short_id(d) + " is stopping; its next call starts a new one");
    else
      printf("restarted %s  %s\n", short_id(d).c_str(), command_line(d.info).c_str());
  }
  return code;
}

}  // namespace viasock
