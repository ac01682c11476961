// The lifecycles of sessions and of the daemon (session_state.h,
// daemon_state.h): their tables, and sessions over a socket pair driven
// through whole calls, which must end closed without a transition the
// tables forbid. The pool behind them is core_harness.h's, with a fake tool.
#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <memory>
#include <optional>
#include <set>
#include <utility>
#include <vector>

#include "common/exit_codes.h"
#include "core_harness.h"
#include "server/daemon_state.h"
#include "server/lifecycle.h"
#include "server/session_state.h"

using namespace viasock;
using namespace viasock::testing;

namespace {

// Checks every pair of states against the transitions a table must allow,
// and no other.
template <typename State, size_t N>
void check_table(const State (&all)[N], const std::set<std::pair<State, State>>& allowed) {
  for (State from : all) {
    for (State to : all) {
      INFO(state_name(from) << " -> " << state_name(to));
      CHECK(transition_allowed(from, to) == (allowed.count({from, to}) > 0));
    }
  }
}

}  // namespace

TEST_CASE("session lifecycle: the transitions a call may take, and no other", "[lifecycle]") {
  using S = SessionState;
  const S all[] = {S::kGreeting, S::kStreaming, S::kInputDone, S::kReplying, S::kExiting, S::kFailed, S::kClosed};
  // A run call and a status request; records never skip the end of input,
  // nothing goes back to the greeting, and a closed session stays closed.
  std::set<std::pair<S, S>> allowed = {{S::kGreeting, S::kStreaming}, {S::kStreaming, S::kInputDone},
                                       {S::kInputDone, S::kExiting},  {S::kGreeting, S::kReplying},
                                       {S::kReplying, S::kExiting},   {S::kFailed, S::kClosed}};
  // The client may go at any moment; an open call may fail at any moment.
  for (S from : {S::kGreeting, S::kStreaming, S::kInputDone, S::kReplying, S::kExiting}) {
    allowed.insert({from, S::kClosed});
    allowed.insert({from, S::kFailed});
  }
  check_table(all, allowed);
}

TEST_CASE("attach handshake: one ATTACH per call, awaited only until it came or the call failed", "[lifecycle]") {
  using A = AttachState;
  check_table({A::kNone, A::kAwaited, A::kAnswered}, {{A::kNone, A::kAwaited},
                                                      {A::kAwaited, A::kAnswered},
                                                      {A::kAwaited, A::kNone},
                                                      {A::kNone, A::kAnswered}});
}

TEST_CASE("daemon lifecycle: serving, draining, stopping, stopped, in that order", "[lifecycle]") {
  using D = DaemonState;
  // An internal error stops a serving daemon without draining.
  check_table({D::kStarting, D::kServing, D::kDraining, D::kStopping, D::kStopped}, {{D::kStarting, D::kServing},
                                                                                     {D::kServing, D::kDraining},
                                                                                     {D::kDraining, D::kStopping},
                                                                                     {D::kStopping, D::kStopped},
                                                                                     {D::kServing, D::kStopping}});
}

#ifdef NDEBUG
// (A debug build stops on it instead: the assertion is the report.)
TEST_CASE("an impossible transition is reported, with both states' names in the log", "[lifecycle]") {
  uint64_t before = impossible_transitions();
  DaemonState state = DaemonState::kStopped;
  enter_state(&state, DaemonState::kServing, "a test daemon");
  CHECK(impossible_transitions() == before + 1);
  CHECK(state == DaemonState::kServing);
  enter_state(&state, DaemonState::kDraining, "a test daemon");
  CHECK(impossible_transitions() == before + 1);
}
#endif

namespace {

// Answers each line with "<line>!" at once.
Script exclaiming() {
  Script script;
  script.on_line = [](FakeTool& tool, std::string_view line) { tool.print(std::string(line) + "!\n"); };
  return script;
}

// A client that asks for the daemon's status, as `viasock list` does.
class StatusClient {
 public:
  explicit StatusClient(asio::io_context& io) : daemon_end_(io) {
    int fds[2];
    REQUIRE(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) == 0);
    daemon_end_.assign(asio::local::stream_protocol(), fds[0]);
    fd_.reset(fds[1]);
    fcntl(fd_.get(), F_SETFL, O_NONBLOCK);
    std::string hello = wire::encode_frame(wire::kHello, wire::kRequestStatus);
    REQUIRE(::write(fd_.get(), hello.data(), hello.size()) == static_cast<ssize_t>(hello.size()));
  }
  LocalSocket take_daemon_end() { return std::move(daemon_end_); }
  bool step() {
    char chunk[4096];
    ssize_t n = ::read(fd_.get(), chunk, sizeof chunk);
    if (n <= 0) return false;
    auto on_frame = [this](wire::FrameType type, std::string_view bytes) {
      if (type == wire::kData) data += bytes;
      if (type == wire::kExit) REQUIRE(wire::decode_exit(bytes, &status, &message));
    };
    REQUIRE(decoder_.feed(std::string_view(chunk, static_cast<size_t>(n)), on_frame));
    return true;
  }

  std::string data, message;
  int status = -1;

 private:
  LocalSocket daemon_end_;
  UniqueFd fd_;
  wire::FrameDecoder decoder_;
};

// Sessions on a loop of their own, in front of the Core's pool: the test
// holds each session, to see how it ends, and is the daemon it reports to.
class Sessions final : public SessionHost {
 public:
  Sessions() : core_(exclaiming()), framer_(make_framer(RecordFormat{})) {}
  ~Sessions() override {
    for (auto& session : sessions_) session->fail(kExitDaemon, "the test is over");
  }

  std::shared_ptr<Session> open(LocalSocket socket) {
    auto session = std::make_shared<Session>(std::move(socket), 4242, core_.pool(), *framer_, *this);
    sessions_.push_back(session);
    session->start();
    settle();
    return session;
  }
  FakeClient& client(CallOptions options = {}) {
    clients_.push_back(std::make_unique<FakeClient>(io_, options));
    return *clients_.back();
  }
  StatusClient& status_client() {
    status_clients_.push_back(std::make_unique<StatusClient>(io_));
    return *status_clients_.back();
  }
  // Until `done` holds, a millisecond of the manual clock at a time.
  bool run_until(const std::function<bool()>& done, milliseconds limit = milliseconds(5000)) {
    settle();
    for (milliseconds passed{0}; !done(); passed += milliseconds(1)) {
      if (passed >= limit) return false;
      core_.clock().advance(milliseconds(1));
      settle();
    }
    return true;
  }

  // SessionHost.
  uint64_t run_started(const CallOptions&) override { return ++runs; }
  const ToolFailure* tool_failure() const override { return failure ? &*failure : nullptr; }
  // As the daemon does, the session is let go once closed: the test holds
  // on to it only as long as it looks at it.
  void session_closed(Session* session) override {
    ++closes;
    std::erase_if(sessions_, [session](const auto& held) { return held.get() == session; });
  }
  std::string status_json() const override { return "{\"state\":\"ready\"}\n"; }
  void stop_requested() override {}

  uint64_t runs = 0;
  int closes = 0;
  std::optional<ToolFailure> failure;

 private:
  void settle() {
    for (bool progress = true; progress;) {
      core_.settle();
      io_.restart();
      progress = io_.poll() > 0;
      for (const auto& client : clients_) progress |= client->step();
      for (const auto& client : status_clients_) progress |= client->step();
    }
  }

  // The loop first: whatever holds a socket goes before it.
  asio::io_context io_;
  Core core_;
  std::unique_ptr<RecordFramer> framer_;
  std::vector<std::unique_ptr<FakeClient>> clients_;
  std::vector<std::unique_ptr<StatusClient>> status_clients_;
  std::vector<std::shared_ptr<Session>> sessions_;
};

}  // namespace

TEST_CASE("a session's life over a socket pair ends closed, by allowed transitions only", "[lifecycle][session]") {
  uint64_t impossible = impossible_transitions();
  Sessions sessions;

  SECTION("a client that greets, sends records and ends its input gets its answers and EXIT 0") {
    FakeClient& client = sessions.client();
    auto session = sessions.open(client.take_daemon_end());
    CHECK(session->runs_records());
    CHECK(session->open());
    client.send("a\nb\n");
    client.send("c");  // the last record, completed at the end of input
    client.end_input();
    REQUIRE(sessions.run_until([&] { return session->closed(); }));
    CHECK(client.status() == kExitOk);
    CHECK(client.out() == "a!\nb!\nc!\n");
    CHECK(session->records_in() == 3);
    CHECK(sessions.closes == 1);
    // The daemon counts a run client out when it closed: still a run call.
    CHECK(session->runs_records());
    CHECK_FALSE(session->open());
  }

  SECTION("a client that vanishes mid-call leaves a closed session, and the next call is served") {
    // Once the tool is learned (a first call that ends), as in the core's
    // own test of a vanishing client.
    FakeClient& first = sessions.client();
    auto learned = sessions.open(first.take_daemon_end());
    first.send("x\n");
    first.end_input();
    REQUIRE(sessions.run_until([&] { return learned->closed(); }));
    FakeClient& client = sessions.client();
    auto session = sessions.open(client.take_daemon_end());
    client.send("a\nb\nhalf a rec");
    REQUIRE(sessions.run_until([&] { return client.out() == "a!\nb!\n"; }));
    CHECK(session->open());
    CHECK_FALSE(session->input_finished());
    client.vanish();
    REQUIRE(sessions.run_until([&] { return session->closed(); }));
    CHECK_FALSE(client.done());
    CHECK(sessions.closes == 2);
    session.reset();
    FakeClient& next = sessions.client();
    auto served = sessions.open(next.take_daemon_end());
    next.send("d\n");
    next.end_input();
    REQUIRE(sessions.run_until([&] { return served->closed(); }));
    CHECK(next.status() == kExitOk);
    CHECK(next.out() == "d!\n");
  }

  SECTION("a call failed while it streams gets what was answered, then the error; its END_INPUT is ignored") {
    FakeClient& client = sessions.client();
    auto session = sessions.open(client.take_daemon_end());
    client.send("a\n");
    REQUIRE(sessions.run_until([&] { return client.out() == "a!\n"; }));
    session->fail(kExitDaemon, "the viasock daemon was stopped");
    CHECK_FALSE(session->open());
    client.send("b\n");
    client.end_input();
    REQUIRE(sessions.run_until([&] { return session->closed(); }));
    CHECK(client.status() == kExitDaemon);
    CHECK(client.message() == "the viasock daemon was stopped");
    CHECK(client.out() == "a!\n");
    // Failing again is no transition at all.
    session->fail(kExitDaemon, "again");
    CHECK(sessions.closes == 1);
  }

  SECTION("a greeting for a tool that cannot be served fails at once, as no run") {
    sessions.failure = ToolFailure{kExitToolQuit, "the tool cannot start", ""};
    FakeClient& client = sessions.client();
    auto session = sessions.open(client.take_daemon_end());
    client.end_input();
    REQUIRE(sessions.run_until([&] { return session->closed(); }));
    CHECK(client.status() == kExitToolQuit);
    CHECK(client.message() == "the tool cannot start");
    CHECK_FALSE(session->runs_records());
    CHECK(sessions.runs == 0);
  }

  SECTION("a status request is answered with the daemon's status, then EXIT 0") {
    StatusClient& client = sessions.status_client();
    auto session = sessions.open(client.take_daemon_end());
    REQUIRE(sessions.run_until([&] { return session->closed(); }));
    CHECK(client.status == kExitOk);
    CHECK(client.data == "{\"state\":\"ready\"}\n");
    CHECK_FALSE(session->runs_records());
    CHECK(sessions.runs == 0);
  }

  CHECK(impossible_transitions() == impossible);
}
