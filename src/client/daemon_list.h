// Finding daemons for the management commands: those registered in a state
// directory (run/<ID>.json, this host's only) and, when asked, every daemon
// of this user in the per-user registry. Nothing here creates a directory.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "common/daemon_info.h"

namespace viasock {

// What a daemon said about itself (its status reply).
struct DaemonStatus {
  std::string state;  // starting, ready, draining
  long long clients = 0, calls = 0, records = 0;
  double uptime = 0, idle = 0;
  bool draining = false;
  // Tool instances now, and the bounds of -j (MIN = MAX for a fixed pool).
  int instances = 0, min_instances = 0, max_instances = 0;
  // What the daemon learned about its tool, as options of `viasock run`
  // ("--pty -T '^$'"; empty: pipes and lines), whether learning is over,
  // whether it came from an earlier daemon of the ID, and whether the tool
  // keeps state (an instance per call).
  std::string learned;
  bool learning_done = false, remembered = false, stateful = false;
  // The files the tool read at start (server/start_tracker.h): "off"
  // (--no-track), "recording" (still starting), "done" or "refused" (with
  // the reason); the files once done, sorted, up to a limit.
  std::string tracking, tracking_problem;
  long long tracked_count = 0;
  std::vector<std::string> tracked;
};

// A daemon's status JSON, or nothing when it is not one.
std::optional<DaemonStatus> parse_status(const std::string& text);

struct KnownDaemon {
  DaemonInfo info;
  std::string registry_entry;          // its entry in the registry, when listed there
  bool local = false;                  // found in the chosen state directory
  bool alive = false;                  // its process exists
  std::optional<DaemonStatus> status;  // when it answered

  // "ready", "starting", "draining", "failed" (the tool cannot be served;
  // the daemon exits within a second), "not answering" or "not running".
  std::string state() const;
};

struct DaemonScope {
  std::string state_dir;    // --state-dir, else $VIASOCK_DIR, else ./.viasock
  bool everywhere = false;  // also every daemon in the per-user registry
};

// The daemons in `scope`, each once, sorted by working directory and start.
// A missing state directory or registry is no error; an unsafe one is.
bool find_daemons(const DaemonScope& scope, std::vector<KnownDaemon>* daemons, std::string* error);

// Sends `request` to every live daemon at once and records the answers;
// those that have not answered within `timeout` keep an empty status.
void ask_all(std::vector<KnownDaemon>& daemons, std::string_view request, std::chrono::milliseconds timeout);

// True when process `pid` exists and is not a zombie.
bool process_alive(pid_t pid);

// "tool arg1 arg2".
std::string command_line(const DaemonInfo& info);
// The options that distinguish this daemon from one with the defaults
// ("-j 2 -L"), empty when there are none.
std::string distinguishing_options(const DaemonInfo& info);

}  // namespace viasock
