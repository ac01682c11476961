// run/<ID>.json: what a running daemon tells about itself, for management
// commands and for tests that must end the processes they started.
#pragma once

#include <sys/types.h>

#include <ctime>
#include <string>

#include "common/run_options.h"
#include "common/state_dir.h"

namespace viasock {

struct DaemonInfo {
  std::string id;
  pid_t pid = 0;
  std::string host, cwd;
  RunOptions options;
  std::string socket, log;
  time_t started = 0;
};

// Writes run/<id>.json atomically (a reader never sees half a file).
bool write_metadata(const StateDir& state, const DaemonInfo& info, std::string* error);
void remove_metadata(const StateDir& state, const std::string& id);

// JSON string literal for any bytes: invalid UTF-8 is escaped byte by byte.
std::string json_quote(const std::string& text);

}  // namespace viasock
