#include "cli/messages.h"

#include <cctype>
#include <regex>

namespace viasock {

std::string HelpFormatter::make_usage(const CLI::App* app, std::string name) const {
  auto it = usages_.find(app);
  if (it == usages_.end()) return CLI::Formatter::make_usage(app, std::move(name));
  return "usage: " + it->second + "\n";
}

std::string HelpFormatter::make_option_opts(const CLI::Option* option) const {
  if (option->get_positional()) return option->get_expected_max() > 1 ? " ..." : "";
  if (option->get_type_size() == 0 || option->get_type_name().empty()) return "";  // a flag
  const std::string& word = option->get_option_text();
  return " " + (word.empty() ? std::string("VALUE") : word);
}

std::string parse_error_message(const CLI::ParseError& error) {
  std::string text = error.what();
  std::smatch m;
  // "-W: 1 required NUMBER missing"
  if (std::regex_match(text, m, std::regex(R"((\S+): \d+ required (\S+) missing)")))
    return "option " + m[1].str() + " needs " + (m[2].str() == "TEXT" ? "a value" : "a number");
  // "Could not convert: -W = abc"
  if (std::regex_match(text, m, std::regex(R"(Could not convert: (\S+) = (.*))")))
    return "option " + m[1].str() + ": '" + m[2].str() + "' is not a valid value";
  // "The value abc is not an allowed value for -W"
  if (std::regex_match(text, m, std::regex(R"(The value (.*) is not an allowed value for (\S+))")))
    return "option " + m[2].str() + ": '" + m[1].str() + "' is not a valid value";
  // "--retry: Value abc not in range 0 to 100"
  if (std::regex_match(text, m, std::regex(R"((\S+): Value (.*) not in range (\S+) to (\S+))")))
    return "option " + m[1].str() + ": '" + m[2].str() + "' is not a number from " + m[3].str() + " to " + m[4].str();
  // "--max-record: q unit not recognized. Allowed values: {b,e,eb,...}"
  // (CLI11 names the unit only, lower-cased)
  if (std::regex_search(text, m, std::regex(R"(^(\S+): (.*) unit not recognized)")))
    return "option " + m[1].str() + ": the unit '" + m[2].str() + "' is none of K, M, G (a size is 64M, 512K, 2G)";
  if (std::regex_match(text, m, std::regex(R"((\S+) is required)"))) return "missing " + m[1].str();
  if (std::regex_match(text, m, std::regex(R"(Expected at most (\d+) arguments? to (\S+), got (\d+))")) ||
      std::regex_match(text, m, std::regex(R"((\S+): too many inputs for a flag)")))
    return "option " + m[m.size() == 4 ? 2 : 1].str() + " takes no value";
  if (!text.empty()) text[0] = static_cast<char>(std::tolower(static_cast<unsigned char>(text[0])));
  while (!text.empty() && (text.back() == '.' || text.back() == '\n')) text.pop_back();
  return text;
}

std::vector<std::string> long_option_names(const CLI::App* app) {
  std::vector<std::string> names = {"--help"};
  for (const CLI::Option* option : app->get_options())
    for (const std::string& name : option->get_lnames()) names.push_back("--" + name);
  return names;
}

}  // namespace viasock
