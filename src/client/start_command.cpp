#include "client/start_command.h"

#include <chrono>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <thread>

#include "client/connector.h"
#include "client/status_query.h"
#include "common/error_output.h"
#include "common/exit_codes.h"
#include "common/server_id.h"
#include "common/state_dir.h"
#include "common/tool_path.h"
#include "common/wire.h"

namespace viasock {
namespace {

constexpr auto kPollInterval = std::chrono::milliseconds(50);
constexpr auto kAnswerTimeout = std::chrono::milliseconds(2000);

struct DaemonState {
  std::string state;  // "ready", "starting", "draining", "failed", or "" when the daemon does not answer
  std::string error;  // why it failed, when it says
};

DaemonState daemon_state(const std::string& socket) {
  auto replies = ask_daemons({socket}, wire::kRequestStatus, kAnswerTimeout);
  if (!replies[0]) return {};
  nlohmann::json status = nlohmann::json::parse(*replies[0], nullptr, false);
  if (!status.is_object()) return {};
  return {status.value("state", std::string("ready")), status.value("error", std::string())};
}

}  // namespace

int start_command(const RunOptions& options) {
  std::string problem = validate(options);
  if (!problem.empty()) return print_error(kExitUsage, problem + " (see 'viasock start --help')");
  ResolvedTool tool = resolve_tool(options.tool);
  if (tool.path.empty()) return print_error(tool.exit_code, tool.error);
  StateDir state;
  std::string error;
  if (!state.open(choose_state_dir(options.state_dir), &error)) return print_error(kExitDaemon, error);
  std::string id = compute_server_id(options, current_context(tool.path));

  Connection connection = connect_or_spawn(options, state, id);
  if (!connection.socket) return print_error(connection.exit_code, connection.error);
  // Our call is dropped without input: an empty call is a run of the tool
  // on empty input, which a daemon that is still learning the tool serves
  // with an instance of its own. A tool that cannot start is reported by
  // the spawn above, or by the state below.
  connection.socket.reset();

  while (true) {
    DaemonState daemon = daemon_state(state.socket_path(id));
    const std::string& now = daemon.state;
    if (now == "ready") break;
    if (now == "draining") return print_error(kExitDaemon, "the daemon is stopping; see " + state.log_path(id));
    if (now == "failed" && !daemon.error.empty()) return print_error(kExitToolQuit, daemon.error);
    if (now == "failed")
      return print_error(kExitToolQuit, "the tool cannot be served as it is; see " + state.log_path(id));
    if (now.empty())
      return print_error(kExitDaemon, "the daemon stopped answering while its tool started; see " + state.log_path(id));
    std::this_thread::sleep_for(kPollInterval);
  }
  if (options.verbose)
    fprintf(stderr, "viasock: %s daemon %s\n", connection.spawned ? "started" : "reusing", id.c_str());
  printf("%s\n", id.c_str());
  return kExitOk;
}

}  // namespace viasock
