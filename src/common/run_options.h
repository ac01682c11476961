// Everything `viasock run` and `viasock server` are told on the command line.
// The client parses it, hashes it into the server identity, and hands it to
// the daemon it spawns as arguments (to_server_args), so both sides always
// agree on the command they serve.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/record_framer.h"

namespace viasock {

struct RunOptions {
  // What the daemon does; all of it is part of the server identity.
  RecordFormat input_format;   // -t / -0
  RecordFormat output_format;  // -T / -0
  int prelude_records = 0;     // -P
  int prelude_lines = 0;       // --prelude-lines
  double record_timeout = 0;   // -w, seconds; 0 = none
  double idle_timeout = 60;    // -W, seconds; 0 = never
  int instances = 1;           // -j N, or MAX of -j MIN:MAX
  int min_instances = 0;       // MIN of -j MIN:MAX; 0: a fixed pool of `instances`
  uint64_t max_records = 0;    // --max-records: recycle an instance after N records; 0 = never
  bool line_buffered = false;  // -L
  std::vector<std::string> watch;  // --watch
  std::vector<std::string> env;    // --env

  // Where, and how loudly; not part of the identity.
  std::string state_dir;  // --state-dir / VIASOCK_DIR / ./.viasock
  std::string log_file;   // -l
  bool no_spawn = false;
  bool verbose = false;

  std::string tool;                // as the user wrote it
  std::vector<std::string> args;  // the tool's arguments
};

// Checks what a parser cannot: an invalid regex, -0 with -t, ranges. Returns
// a message for a usage error, or "".
std::string validate(const RunOptions& options);

// Parses -j: "N" (a fixed pool) or "MIN:MAX" (a pool that grows with its
// load). Returns a message for a usage error, or "".
std::string parse_instances(const std::string& text, RunOptions* options);
// -j as parse_instances() reads it.
std::string instances_text(const RunOptions& options);

// The options that define the daemon's behaviour, as command-line arguments
// (without the tool); parsing them again gives the same RunOptions.
std::vector<std::string> behaviour_args(const RunOptions& options);

}  // namespace viasock
