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
  // What decides the tool process and the framing: part of the server
  // identity (identity_args).
  RecordFormat input_format;       // -t / -0
  RecordFormat output_format;      // -T / -0
  int prelude_records = 0;         // -P
  int prelude_lines = 0;           // --prelude-lines
  bool line_buffered = false;      // -L
  bool pty = false;                // --pty
  bool pipe = false;               // --pipe: the tool flushes on a pipe; learn nothing
  std::vector<std::string> watch;  // --watch
  std::vector<std::string> env;    // --env
  bool no_track = false;           // --no-track: not the files the tool reads at start

  // Operational: a call with other values shares the daemon. -W and -j
  // raise a running daemon's limits, -w applies to the call's own records.
  double record_timeout = 0;  // -w, seconds; 0 = none
  double idle_timeout = 60;   // -W, seconds; 0 = never
  int instances = 1;          // -j N, or MAX of -j MIN:MAX
  int min_instances = 0;      // MIN of -j MIN:MAX; 0: a fixed pool of `instances`
  uint64_t max_records = 0;   // --max-records: recycle an instance after N records; 0 = never
  bool quiet_tool = false;    // --quiet-tool: the tool's stderr only to the log
  int retries = 0;            // --retry: resend records in flight on a tool that died, N times

  uint64_t max_record = 64 << 20;   // --max-record, bytes: a larger input record fails its call
  uint64_t max_answer = 256 << 20;  // --max-answer, bytes: a larger answer fails its call

  // Where, and how loudly.
  std::string state_dir;  // --state-dir / VIASOCK_DIR / ./.viasock
  std::string log_file;   // -l
  bool no_spawn = false;
  bool verbose = false;

  std::string tool;               // as the user wrote it
  std::vector<std::string> args;  // the tool's arguments
};

// --retry at most: a record that kills the tool more often is no accident.
constexpr int kMaxRetries = 100;

// Checks what a parser cannot: an invalid regex, -0 with -t, ranges. Returns
// a message for a usage error, or "".
std::string validate(const RunOptions& options);

// A number of seconds as an option value: every digit that matters, so
// that it reads back the same.
std::string number_text(double value);

// Timeouts of `inf` or beyond any lifetime (over 1e9 s, ~30 years) mean
// "none", as 0 does; call before validate().
void normalize_timeouts(RunOptions& options);

// True when no option says how the tool buffers or frames its output
// (-t, -T, -0, -P, --prelude-lines, -L, --pty, --pipe): the daemon then
// learns it.
bool learns_tool(const RunOptions& options);

// The options that are part of the server identity, as command-line
// arguments.
std::vector<std::string> identity_args(const RunOptions& options);

// Parses -j: "N" (a fixed pool) or "MIN:MAX" (a pool that grows with its
// load). Returns a message for a usage error, or "".
std::string parse_instances(const std::string& text, RunOptions* options);
// -j as parse_instances() reads it.
std::string instances_text(const RunOptions& options);

// Every option a spawned daemon needs (identity and operational), as
// command-line arguments (without the tool); parsing them again gives the
// same RunOptions.
std::vector<std::string> behaviour_args(const RunOptions& options);

}  // namespace viasock
