// The options of the commands that serve a tool (run, start, server, and
// any later one): each is declared once, in add_run_options, so a new option
// is one line there and every such command has it.
#pragma once

#include <string>

#include "common/run_options.h"

namespace CLI {
class App;
}

namespace viasock {

// What the parser fills; finish_run_options turns it into RunOptions.
struct RunFlags {
  RunOptions options;
  bool null_records = false;
  std::string input_regex, output_regex;
  std::string instances = "1";  // -j N or MIN:MAX, parsed by parse_instances
};

// What the daemon does: everything that is part of its identity, and -l.
void add_run_options(CLI::App* app, RunFlags& flags);
// How a client reaches it: --state-dir, -v, --no-spawn.
void add_client_options(CLI::App* app, RunFlags& flags, bool no_spawn);
// Record formats from -0, -t and -T once `app` has been parsed.
void finish_run_options(RunFlags& flags, const CLI::App* app);

}  // namespace viasock
