#include "server/flush_options.h"

#include <string_view>

namespace viasock {
namespace {

std::string_view base_name(const std::string& tool) {
  std::string_view name(tool);
  size_t slash = name.rfind('/');
  return slash == std::string_view::npos ? name : name.substr(slash + 1);
}

bool is_python(std::string_view name) { return name.starts_with("python"); }

}  // namespace

std::vector<std::string> automatic_flush_args(const std::string& tool) {
  std::string_view name = base_name(tool);
  if (name == "mawk") return {"-W", "interactive"};
  if (name == "jq") return {"--unbuffered"};
  if (name == "grep" || name == "egrep" || name == "fgrep") return {"--line-buffered"};
  return {};
}

std::string flush_option_hint(const std::string& tool) {
  std::string_view name = base_name(tool);
  if (is_python(name)) return "'" + std::string(name) + " -u'";
  if (name == "mawk") return "'mawk -W interactive'";
  if (name == "jq") return "'jq --unbuffered'";
  if (name == "grep" || name == "egrep" || name == "fgrep") return "'" + std::string(name) + " --line-buffered'";
  if (name == "sed") return "'sed -u'";
  if (name == "perl") return "'perl' with '$| = 1'";
  return "";
}

}  // namespace viasock
