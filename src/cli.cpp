#include "cli.h"

#include <cstdio>
#include <string>
#include <vector>

#include "cli/messages.h"
#include "cli/run_flags.h"
#include "cli/suggest.h"
#include "client/manage_commands.h"
#include "client/probe_command.h"
#include "client/run_command.h"
#include "client/start_command.h"
#include "common/error_output.h"
#include "common/exit_codes.h"
#include "server/server_main.h"

namespace viasock {
namespace {

int usage_error(const std::string& command, const std::string& message) {
  std::string help = command.empty() ? "viasock --help" : "viasock " + command + " --help";
  return print_error(kExitUsage, message + " (see '" + help + "')");
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

// The command line as the commands see it.
struct Parsed {
  RunFlags run;
  ManageOptions manage;
  std::string socket_path, server_state_dir, help_topic;
  int ready_fd = -1;
  std::vector<std::string> tool_words;  // TOOL [ARGS...] (server: SOCKET TOOL [ARGS...])
};

class CommandLine {
 public:
  CommandLine() : formatter_(std::make_shared<HelpFormatter>()) {
    app_.formatter(formatter_);
    app_.set_version_flag("--version", std::string("viasock ") + VIASOCK_VERSION, "print the version and exit");
    app_.set_help_flag("-h,--help", "print this help and exit");
    formatter_->set_usage(&app_, "viasock COMMAND [OPTIONS] [ARGS...]");
    app_.footer("'viasock help COMMAND' describes one command; 'man viasock' all of them.");
    add_tool_commands();
    add_manage_commands();
  }

  int run(int argc, char** argv);

 private:
  CLI::App* add(const std::string& name, const std::string& description, const std::string& usage) {
    CLI::App* sub = app_.add_subcommand(name, description);
    sub->group("Commands");
    sub->allow_extras();
    formatter_->set_usage(sub, "viasock " + name + " " + usage);
    return sub;
  }

  void add_tool_commands() {
    const char* tool_footer =
        "Everything from TOOL on belongs to the tool: 'viasock run -W 5 hunspell -a -d en_US' passes "
        "'-a -d en_US' to hunspell.";
    run_ = add("run", "serve stdin through TOOL's daemon, starting it when needed", "[OPTIONS] TOOL [ARGS...]");
    add_run_options(run_, p_.run);
    add_client_options(run_, p_.run, true);
    run_->footer(tool_footer);
    start_ = add("start", "start (or find) TOOL's daemon, wait until the tool is ready, print its ID",
                 "[OPTIONS] TOOL [ARGS...]");
    add_run_options(start_, p_.run);
    add_client_options(start_, p_.run, false);
    start_->footer(tool_footer);
    probe_ = add("probe", "run TOOL directly and through a daemon on the sample on stdin; print the options that work",
                 "[OPTIONS] TOOL [ARGS...] < SAMPLE");
    add_run_options(probe_, p_.run);
    probe_->footer(tool_footer);
    server_ = add("server", "run the daemon in the foreground on SOCKET", "[OPTIONS] SOCKET TOOL [ARGS...]");
    add_run_options(server_, p_.run);
    server_->add_option("--state-dir", p_.server_state_dir, "register in this state directory (as spawned daemons do)")
        ->option_text("DIR");
    server_->add_option("--ready-fd", p_.ready_fd, "report readiness on this descriptor")->group("")->option_text("FD");
    client_ = add("client", "stream stdin and stdout through the daemon on SOCKET", "SOCKET");
    client_->add_option("SOCKET", p_.socket_path, "the daemon's socket")->required();
  }

  void add_manage_commands() {
    ManageOptions& m = p_.manage;
    list_ = add("list", "the daemons of this directory, or with --all of this user", "[OPTIONS]");
    list_->add_flag("--all,--everywhere", m.all, "every daemon of this user on this host, from any directory");
    list_->add_flag("--json", m.json, "print a JSON array with every field");
    list_->add_flag("--ids", m.ids_only, "print only the IDs (for shell completion)");
    list_->add_flag("-v,--verbose", m.verbose, "also say what each daemon's identity covers, every file it tracks");
    stop_ = add("stop", "stop daemons gracefully", "[OPTIONS] ID-PREFIX... | --all");
    restart_ = add("restart", "replace the tool instances of daemons without failing a call",
                   "[OPTIONS] ID-PREFIX... | --all");
    for (CLI::App* sub : {stop_, restart_}) {
      sub->add_flag("--all", m.all, "every daemon of the state directory");
      sub->add_flag("--everywhere", m.everywhere, "with --all: every daemon of this user on this host");
      sub->add_option("ID-PREFIX", m.ids, "daemons whose ID starts with these (found in any directory)");
    }
    prune_ = add("prune", "remove the files of daemons that no longer run", "[OPTIONS]");
    prune_->add_flag("--everywhere", m.everywhere, "also daemons of other directories that died");
    prune_
        ->add_option("--older-than", m.older_than_days,
                     "remove logs and locks of daemons that exited more than DAYS ago (default 7)")
        ->option_text("DAYS");
    logs_ = add("logs", "print a daemon's log", "[OPTIONS] ID-PREFIX");
    logs_->add_flag("-f,--follow", m.follow, "keep printing what is added until the daemon exits");
    logs_->add_option("ID-PREFIX", m.ids, "the daemon whose ID starts with this")->required()->expected(1);
    for (CLI::App* sub : {list_, stop_, restart_, prune_, logs_})
      sub->add_option("--state-dir", m.state_dir, "state directory (default: $VIASOCK_DIR or ./.viasock)")
          ->option_text("DIR");
    help_ = add("help", "describe viasock or one of its commands", "[COMMAND]");
    help_->add_option("COMMAND", p_.help_topic, "the command to describe");
  }

  std::vector<std::string> command_names() const {
    std::vector<std::string> names;
    for (const CLI::App* sub : app_.get_subcommands({})) names.push_back(sub->get_name());
    return names;
  }

  CLI::App* find(const std::string& name) {
    for (CLI::App* sub : app_.get_subcommands({}))
      if (sub->get_name() == name) return sub;
    return nullptr;
  }

  int unknown_command(const std::string& word) {
    std::string hint = closest(word, command_names());
    return usage_error("", "unknown command '" + word + "'" + (hint.empty() ? "" : "; did you mean '" + hint + "'?"));
  }

  // Options CLI11 did not know, and words no command takes.
  int report_extras(CLI::App* sub) {
    for (const std::string& word : sub->remaining()) {
      if (!word.starts_with("-")) return usage_error(sub->get_name(), "unexpected argument '" + word + "'");
      std::string name = word.substr(0, word.find('='));
      std::string hint = name.starts_with("--") ? closest(name, long_option_names(sub)) : "";
      return usage_error(sub->get_name(),
                         "unknown option '" + name + "'" + (hint.empty() ? "" : "; did you mean '" + hint + "'?"));
    }
    return kExitOk;
  }

  int show_help() {
    if (p_.help_topic.empty()) return printf("%s", app_.help().c_str()), kExitOk;
    CLI::App* sub = find(p_.help_topic);
    if (!sub) return unknown_command(p_.help_topic);
    printf("%s", sub->help().c_str());
    return kExitOk;
  }

  int dispatch();

  std::shared_ptr<HelpFormatter> formatter_;
  CLI::App app_{"viasock: keep a slow-starting filter alive and serve many calls from it", "viasock"};
  CLI::App *run_, *start_, *probe_, *server_, *client_, *list_, *stop_, *restart_, *prune_, *logs_, *help_;
  Parsed p_;
};

int CommandLine::run(int argc, char** argv) {
  std::vector<std::string> words(argv + 1, argv + argc);
  if (words.empty()) return fprintf(stderr, "%s", app_.help().c_str()), kExitUsage;
  const std::string& command = words[0];
  CLI::App* sub = command.starts_with("-") ? nullptr : find(command);
  if (!sub && !command.starts_with("-")) return unknown_command(command);
  // Handled before CLI11, which would take `help run` for two commands.
  if (sub == help_ && words.size() <= 2 && (words.size() == 1 || !words[1].starts_with("-"))) {
    p_.help_topic = words.size() == 2 ? words[1] : "";
    return show_help();
  }
  if (sub == run_ || sub == start_ || sub == probe_ || sub == server_) {
    size_t start = std::min(command_start(sub, words, 1), words.size());
    p_.tool_words.assign(words.begin() + static_cast<long>(start), words.end());
    words.resize(start);
    if (!words.empty() && words.back() == "--") words.pop_back();
  }
  try {
    std::vector<std::string> reversed(words.rbegin(), words.rend());
    app_.parse(reversed);
  } catch (const CLI::CallForHelp& e) {
    return app_.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app_.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app_.exit(e);
  } catch (const CLI::ParseError& e) {
    if (sub) {
      int code = report_extras(sub);
      if (code != kExitOk) return code;
    }
    return usage_error(sub ? sub->get_name() : "", parse_error_message(e));
  }
  if (!sub) return usage_error("", "no command given");
  int code = report_extras(sub);
  return code != kExitOk ? code : dispatch();
}

int CommandLine::dispatch() {
  if (help_->parsed()) return show_help();
  if (client_->parsed()) return client_command(p_.socket_path);
  if (list_->parsed()) return list_command(p_.manage);
  if (stop_->parsed()) return stop_command(p_.manage);
  if (restart_->parsed()) return restart_command(p_.manage);
  if (prune_->parsed()) return prune_command(p_.manage);
  if (logs_->parsed()) return logs_command(p_.manage);
  CLI::App* command = run_->parsed() ? run_ : start_->parsed() ? start_ : probe_->parsed() ? probe_ : server_;
  finish_run_options(p_.run, command);
  RunOptions& options = p_.run.options;
  std::vector<std::string>& words = p_.tool_words;
  if (command == server_) {
    if (words.empty()) return usage_error("server", "missing SOCKET and TOOL");
    p_.socket_path = words.front();
    words.erase(words.begin());
  }
  if (words.empty()) return usage_error(command->get_name(), "missing TOOL");
  options.tool = words.front();
  options.args.assign(words.begin() + 1, words.end());
  normalize_timeouts(options);
  std::string problem = parse_instances(p_.run.instances, &options);
  if (problem.empty()) problem = validate(options);
  if (!problem.empty()) return usage_error(command->get_name(), problem);
  if (command == run_) return run_command(options);
  if (command == start_) return start_command(options);
  if (command == probe_) return probe_command(options);
  return server_command(options, p_.socket_path, p_.server_state_dir, p_.ready_fd);
}

}  // namespace

int main_with_args(int argc, char** argv) { return CommandLine().run(argc, argv); }

}  // namespace viasock
