#include "client/start_command.h"

#include <poll.h>
#include <unistd.h>

#include <cerrno>
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

// Ends our (empty) call and waits for the daemon's verdict on it: with a
// prelude the daemon answers once the tool printed it, and a tool that
// cannot start fails the call with its reason.
bool end_call(int fd, int* status, std::string* message) {
  std::string end = wire::encode_frame(wire::kEndInput, "");
  if (write(fd, end.data(), end.size()) != static_cast<ssize_t>(end.size())) return false;
  wire::FrameDecoder decoder;
  bool done = false, ok = true;
  char buffer[4096];
  while (!done && ok) {
    ssize_t n = read(fd, buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    ok = decoder.feed(std::string_view(buffer, static_cast<size_t>(n)), [&](wire::FrameType type, std::string_view bytes) {
      if (type == wire::kExit) done = wire::decode_exit(bytes, status, message);
    });
  }
  return done;
}

// "ready", "starting", "draining", "failed", or "" when the daemon does not answer.
std::string daemon_state(const std::string& socket) {
  auto replies = ask_daemons({socket}, wire::kRequestStatus, kAnswerTimeout);
  if (!replies[0]) return "";
  nlohmann::json status = nlohmann::json::parse(*replies[0], nullptr, false);
  if (!status.is_object()) return "";
  const auto state = status.find("state");
  return state != status.end() && state->is_string() ? state->get<std::string>() : "ready";
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
  // With framing options the empty call ends once the tool is loaded (and
  // printed its prelude), or fails with the tool's own words. Without them
  // the call is dropped instead: an empty call is a run of the tool on
  // empty input, which a daemon that is still learning the tool serves
  // with an instance of its own. A tool that cannot start is then reported
  // by the spawn above, or by the state below.
  if (!learns_tool(options)) {
    int status = 0;
    std::string message;
    if (!end_call(connection.socket.get(), &status, &message))
      return print_error(kExitDaemon, "the daemon went away while starting; see " + state.log_path(id));
    if (status != kExitOk) return print_error(status, message);
  }
  connection.socket.reset();

  while (true) {
    std::string now = daemon_state(state.socket_path(id));
    if (now == "ready") break;
    if (now == "draining")
      return print_error(kExitDaemon, "the daemon is stopping; see " + state.log_path(id));
    if (now == "failed")
      return print_error(kExitToolQuit, "the tool cannot be served as it is; see " + state.log_path(id));
    if (now.empty())
      return print_error(kExitDaemon, "the daemon stopped answering while its tool started; see " + state.log_path(id));
    std::this_thread::sleep_for(kPollInterval);
  }
  if (options.verbose) fprintf(stderr, "viasock: %s daemon %s\n", connection.spawned ? "started" : "reusing", id.c_str());
  printf("%s\n", id.c_str());
  return kExitOk;
}

}  // namespace viasock
