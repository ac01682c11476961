#include "client/identity_coverage.h"

#include "common/file_state.h"
#include "common/tool_path.h"

namespace viasock {
namespace {

std::string joined(const std::vector<std::string>& words) {
  std::string text;
  for (const auto& word : words) text += (text.empty() ? "" : ", ") + word;
  return text;
}

// The files named by the arguments, as the server ID finds them: an
// argument that is a file, or the VALUE of --opt=VALUE.
std::vector<std::string> argument_files(const std::vector<std::string>& args) {
  std::vector<std::string> files;
  for (const auto& arg : args) {
    size_t eq = arg.find('=');
    for (const std::string& path : {arg, arg.starts_with("-") && eq != std::string::npos ? arg.substr(eq + 1) : ""})
      if (!path.empty() && read_file_state(path).exists) files.push_back(path);
  }
  return files;
}

std::string start_files(const RunOptions& options, const DaemonStatus* status) {
  if (options.no_track || (status && status->tracking == "off"))
    return "not the files the tool reads at start (--no-track): a changed module, config or model the "
           "arguments do not name keeps the old daemon; --watch PATH covers it";
  if (!status) return "the files the tool reads at start (the daemon did not say which)";
  if (status->tracking == "refused")
    return "not the files the tool reads at start: " + status->tracking_problem + "; --watch PATH covers them";
  if (status->tracking == "recording") return "the files the tool reads at start (it is still starting)";
  return "the " + std::to_string(status->tracked_count) + " files the tool read at start";
}

}  // namespace

std::vector<std::string> identity_coverage(const RunOptions& options, const DaemonStatus* status, bool list_files) {
  std::vector<std::string> lines;
  ResolvedTool tool = resolve_tool(options.tool);
  lines.push_back("the identity covers: the tool " + (tool.path.empty() ? options.tool : tool.path) +
                  ", its arguments, the working directory and the host");
  std::vector<std::string> named = argument_files(options.args);
  if (!named.empty()) lines.push_back("the files its arguments name: " + joined(named));
  lines.push_back(start_files(options, status));
  if (list_files && status && status->tracking == "done") {
    for (const auto& path : status->tracked) lines.push_back("  " + path);
    if (static_cast<long long>(status->tracked.size()) < status->tracked_count)
      lines.push_back("  (and " +
                      std::to_string(status->tracked_count - static_cast<long long>(status->tracked.size())) +
                      " more)");
  }
  if (!options.watch.empty()) lines.push_back("watched: " + joined(options.watch));
  std::vector<std::string> variables = {"LANG", "LANGUAGE", "LC_*",        "TZ",          "PATH",
                                        "LD_*", "PYTHON*",  "VIRTUAL_ENV", "CONDA_PREFIX"};
  variables.insert(variables.end(), options.env.begin(), options.env.end());
  lines.push_back("the variables " + joined(variables));
  return lines;
}

}  // namespace viasock
