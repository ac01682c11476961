#include "client/run_command.h"

#include <unistd.h>

#include <string>

#include "client/connector.h"
#include "client/identity_coverage.h"
#include "client/status_query.h"
#include "client/stream_pump.h"
#include "common/attached_files.h"
#include "common/error_output.h"
#include "common/exit_codes.h"
#include "common/server_id.h"
#include "common/standard_streams.h"
#include "common/state_dir.h"
#include "common/tool_path.h"
#include "common/wire.h"

namespace viasock {
namespace {

void say(const std::string& message) {
  std::string line = "viasock: " + message + "\n";
  (void)!write(STDERR_FILENO, line.data(), line.size());
}

// A new daemon's coverage, asked once the call is over: by then the tool
// has waited for input, and the files it read at start are known.
void say_coverage(const RunOptions& options, const std::string& socket) {
  auto answers = ask_daemons({socket}, wire::kRequestStatus, std::chrono::seconds(2));
  std::optional<DaemonStatus> status = answers.front() ? parse_status(*answers.front()) : std::nullopt;
  for (const auto& line : identity_coverage(options, status ? &*status : nullptr, false)) say(line);
}

}  // namespace

int run_command(const RunOptions& options) {
  std::string problem = validate(options);
  if (!problem.empty()) return print_error(kExitUsage, problem);
  ResolvedTool tool = resolve_tool(options.tool);
  if (tool.path.empty()) return print_error(tool.exit_code, tool.error);
  // Only once the tool is found: a shell reports a missing tool before the
  // tool could look at its streams.
  if (int status = refuse_closed_streams()) return status;

  StateDir state;
  std::string error;
  if (!state.open(choose_state_dir(options.state_dir), &error)) return print_error(kExitDaemon, error);
  std::string id = compute_server_id(options, current_context(tool.path));

  AttachedStreams offer;
  offer.input = attachable_input(STDIN_FILENO);
  offer.output = attachable_output(STDOUT_FILENO, STDERR_FILENO);
  Connection connection = connect_or_spawn(options, state, id, offer.any());
  if (!connection.socket) return print_error(connection.exit_code, connection.error);
  if (options.verbose) say((connection.spawned ? "started daemon " : "reusing daemon ") + id);
  std::string log = state.log_path(id);
  int status = pump_streams(std::move(connection.socket), log.c_str(), offer, options.verbose);
  if (options.verbose && connection.spawned) say_coverage(options, state.socket_path(id));
  return status;
}

int client_command(const std::string& socket_path) {
  if (int status = refuse_closed_streams()) return status;
  std::string error;
  UniqueFd socket = connect_and_greet(socket_path, wire::kRequestRun, &error);
  if (!socket) return print_error(kExitDaemon, error);
  return pump_streams(std::move(socket), "the daemon's log", AttachedStreams{});
}

}  // namespace viasock
