// What a running daemon tells about itself: run/<ID>.json in its state
// directory and, for `viasock list --all`, an entry in the per-user registry
// (common/registry.h). Read by the management commands and by tests that must
// end the processes they started.
#pragma once

#include <sys/types.h>

#include <ctime>
#include <string>
#include <vector>

#include "common/run_options.h"
#include "common/state_dir.h"

namespace viasock {

struct DaemonInfo {
  std::string id;
  pid_t pid = 0;
  std::string host, cwd;
  // Written from these; read back, only tool, args and instances are filled.
  RunOptions options;
  // The options that define its behaviour (behaviour_args), as written.
  std::vector<std::string> behaviour;
  std::string state_dir, socket, log;
  time_t started = 0;
};

// Writes run/<id>.json atomically (a reader never sees half a file), and
// registers the daemon in the per-user registry (best effort: a daemon
// without a registry entry still works, `list --all` just misses it).
bool write_metadata(const StateDir& state, const DaemonInfo& info, std::string* error);
// Removes run/<id>.json, and the registry entry this process wrote (never
// another process's).
void remove_metadata(const StateDir& state, const std::string& id);

// The JSON text of `info`, and back; parsing fails on anything that is not
// such an object. Strings are UTF-8; invalid bytes become U+FFFD.
std::string daemon_info_json(const DaemonInfo& info);
bool parse_daemon_info(const std::string& text, DaemonInfo* info);

// The names of the *.json files in the directory `dir_fd` (run/ or the
// registry), in no particular order.
std::vector<std::string> json_files(int dir_fd);

// The whole content of a small file (false when it cannot be read).
bool read_small_file(int dir_fd, const std::string& name, std::string* text);
// Writes `name` in `dir_fd` through a temporary file and rename(2); false
// with errno set on failure.
bool write_file_atomically(int dir_fd, const std::string& name, const std::string& text);

}  // namespace viasock
