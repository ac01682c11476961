#include "cli.h"

#include <unistd.h>

#include <CLI/CLI.hpp>
#include <string>

#include "client/manage_commands.h"
#include "client/run_command.h"
#include "common/error_output.h"
#include "common/exit_codes.h"
#include "common/run_options.h"
#include "server/server_main.h"

namespace viasock {
namespace {

// Options of `run` and `server`: everything that decides what the daemon
// does, plus where its files go.
void add_run_options(CLI::App* app, RunOptions& o, bool* null_records, std::string* input_regex,
                     std::string* output_regex, std::string* instances) {
  app->add_option("-t,--input-terminator", *input_regex,
                  "input records end with the line matching this POSIX ERE ('' = every line, '^$' = blank line)");
  app->add_option("-T,--output-terminator", *output_regex, "output records end with the line matching this ERE");
  app->add_flag("-0,--null", *null_records, "records end with a NUL byte, in and out");
  app->add_option("-P,--prelude", o.prelude_records, "the tool prints N records at start-up; every client gets them");
  app->add_option("--prelude-lines", o.prelude_lines, "the tool prints N lines at start-up; every client gets them");
  app->add_option("-w,--record-timeout", o.record_timeout, "kill the tool when a record is not answered in SECONDS");
  app->add_option("-W,--idle-timeout", o.idle_timeout, "daemon exits after SECONDS without clients (0: never)")
      ->capture_default_str();
  app->add_option("-j,--instances", *instances,
                  "run N instances of the tool, or MIN:MAX growing with the load (default 1)");
  app->add_option("--max-records", o.max_records, "recycle an instance after it served N records (for tools that leak)");
  app->add_flag("-L,--line-buffered", o.line_buffered, "run the tool under 'stdbuf -oL' so it flushes every line");
  app->add_option("--watch", o.watch, "also restart when PATH changes (repeatable)");
  app->add_option("--env", o.env, "the value of variable NAME is part of the command's identity (repeatable)");
  app->add_option("-l,--log", o.log_file, "daemon log file (default: STATE_DIR/logs/ID.log)");
}

// Everything from TOOL on belongs to the tool, even words that look like our
// options (`viasock run -W 5 hunspell -a -d en_US`). CLI11 cannot stop at the
// first positional by itself, so the command is split off here: the index of
// the first word after the subcommand's options (and after a "--").
size_t command_start(const CLI::App* sub, const std::vector<std::string>& words, size_t first) {
  size_t i = first;
  while (i < words.size()) {
    const std::string& word = words[i];
    if (word == "--") return i + 1;
    if (word.size() < 2 || word[0] != '-') return i;
    bool long_form = word[1] == '-';
    std::string name = long_form ? word.substr(0, word.find('=')) : word.substr(0, 2);
    const CLI::Option* option = sub->get_option_no_throw(name);
    bool value_attached = long_form ? word.find('=') != std::string::npos : word.size() > 2;
    bool takes_value = option && option->get_items_expected_min() > 0;
    i += (takes_value && !value_attached) ? 2 : 1;
  }
  return i;
}

void finish_formats(RunOptions& o, bool null_records, const std::string& input_regex, const std::string& output_regex,
                    const CLI::App* app) {
  if (null_records) {
    o.input_format.kind = o.output_format.kind = RecordFormat::kNull;
    // -0 with -t/-T is reported by validate(): keep the regex kinds visible.
    if (app->count("-t")) o.input_format = {RecordFormat::kRegex, input_regex};
    if (app->count("-T")) o.output_format = {RecordFormat::kRegex, output_regex};
    return;
  }
  if (app->count("-t")) o.input_format = {RecordFormat::kRegex, input_regex};
  if (app->count("-T")) o.output_format = {RecordFormat::kRegex, output_regex};
}

int usage_error(const std::string& message) {
  return print_error(kExitUsage, message + " (see 'viasock --help')");
}

}  // namespace

int main_with_args(int argc, char** argv) {
  CLI::App app{"viasock: keep a slow-starting filter alive and serve many calls from it"};
  app.set_version_flag("--version", VIASOCK_VERSION);
  app.require_subcommand(1);

  RunOptions options;
  bool null_records = false;
  std::string input_regex, output_regex, socket_path, server_state_dir;
  int ready_fd = -1;
  std::string instances = "1";

  CLI::App* run = app.add_subcommand("run", "run TOOL through its daemon, starting it when needed");
  add_run_options(run, options, &null_records, &input_regex, &output_regex, &instances);
  run->add_option("--state-dir", options.state_dir, "state directory (default: $VIASOCK_DIR or ./.viasock)");
  run->add_flag("--no-spawn", options.no_spawn, "fail when no daemon runs instead of starting one");
  run->add_flag("-v,--verbose", options.verbose, "say whether a daemon was started or reused");

  CLI::App* server = app.add_subcommand("server", "run the daemon in the foreground: SOCKET TOOL [ARGS...]");
  add_run_options(server, options, &null_records, &input_regex, &output_regex, &instances);
  server->add_option("--state-dir", server_state_dir, "register in this state directory (as spawned daemons do)");
  server->add_option("--ready-fd", ready_fd, "report readiness on this descriptor")->group("");

  CLI::App* client = app.add_subcommand("client", "stream stdin and stdout through the daemon on SOCKET");
  client->add_option("socket", socket_path, "the daemon's socket")->required();

  std::vector<std::string> words(argv, argv + argc);
  std::vector<std::string> command_words;
  if (argc > 1) {
    CLI::App* sub = words[1] == "run" ? run : words[1] == "server" ? server : nullptr;
    if (sub == run || sub == server) {
      size_t start = command_start(sub, words, 2);
      command_words.assign(words.begin() + static_cast<long>(std::min(start, words.size())), words.end());
      words.resize(std::min(start, words.size()));
      if (!words.empty() && words.back() == "--") words.pop_back();
    }
  }
  ManageOptions manage;
  CLI::App* list = app.add_subcommand("list", "the daemons of this host in the state directory");
  list->add_flag("--json", manage.json, "print a JSON array");
  CLI::App* stop = app.add_subcommand("stop", "stop daemons gracefully: ID-PREFIX... or --all");
  stop->add_flag("--all", manage.all, "every daemon of this host");
  stop->add_option("ids", manage.ids, "daemons whose ID starts with these");
  CLI::App* prune = app.add_subcommand("prune", "remove the files of daemons that no longer run");
  for (CLI::App* sub : {list, stop, prune})
    sub->add_option("--state-dir", manage.state_dir, "state directory (default: $VIASOCK_DIR or ./.viasock)");

  try {
    std::vector<std::string> reversed(words.rbegin(), words.rend() - 1);
    app.parse(reversed);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    return usage_error(e.what());
  }

  if (client->parsed()) return client_command(socket_path);
  if (list->parsed()) return list_command(manage);
  if (stop->parsed()) return stop_command(manage);
  if (prune->parsed()) return prune_command(manage);
  CLI::App* command = run->parsed() ? run : server;
  finish_formats(options, null_records, input_regex, output_regex, command);
  if (command == server) {
    if (command_words.empty()) return usage_error("server needs SOCKET and TOOL");
    socket_path = command_words.front();
    command_words.erase(command_words.begin());
  }
  if (command_words.empty()) return usage_error("no TOOL given");
  options.tool = command_words.front();
  options.args.assign(command_words.begin() + 1, command_words.end());
  std::string problem = parse_instances(instances, &options);
  if (problem.empty()) problem = validate(options);
  if (!problem.empty()) return usage_error(problem);
  if (command == run) return run_command(options);
  return server_command(options, socket_path, server_state_dir, ready_fd);
}

}  // namespace viasock
