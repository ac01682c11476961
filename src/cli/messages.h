// What viasock says around CLI11: usage lines naming the program and the
// tool (`usage: viasock run [OPTIONS] TOOL [ARGS...]`), and CLI11's parse
// errors rewritten in viasock's own lower-case style.
#pragma once

#include <map>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

namespace viasock {

class HelpFormatter : public CLI::Formatter {
 public:
  // The usage line of `app`, after "usage: ".
  void set_usage(const CLI::App* app, std::string usage) { usages_[app] = std::move(usage); }
  std::string make_usage(const CLI::App* app, std::string name) const override;
  // What follows an option's names: the word its value is (`SIZE`, `N`,
  // set with option_text), never CLI11's types and validators; "..." after
  // a repeatable argument. Defaults are said in the descriptions.
  std::string make_option_opts(const CLI::Option* option) const override;

 private:
  std::map<const CLI::App*, std::string> usages_;
};

// One line for a CLI11 parse error ("option -W needs a value").
std::string parse_error_message(const CLI::ParseError& error);

// Every long option name of `app` ("--idle-timeout", ...), for suggestions.
std::vector<std::string> long_option_names(const CLI::App* app);

}  // namespace viasock
