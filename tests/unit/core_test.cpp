// The core's decisions, behind a fake tool and a manual clock
// (core_harness.h): no process, no sleep.
#include <catch2/catch.hpp>

#include "core_harness.h"

using namespace viasock;
using namespace viasock::testing;

namespace {

// Answers each line with "<line>!" at once.
Script flushing() {
  Script script;
  script.on_line = [](FakeTool& tool, std::string_view line) { tool.print(std::string(line) + "!\n"); };
  return script;
}

// The same, after working on each line for `time`.
Script slow(milliseconds time) {
  Script script;
  script.on_line = [time](FakeTool& tool, std::string_view line) {
    tool.busy_for(time);
    tool.print(std::string(line) + "!\n");
  };
  return script;
}

}  // namespace

TEST_CASE("a flushing tool is learned on the first call and started once", "[core]") {
  Core core(flushing());
  FakeClient& first = core.call_with("a\nb\nc\n");
  CHECK(first.status() == 0);
  CHECK(first.out() == "a!\nb!\nc!\n");
  FakeClient& second = core.call_with("d\n");
  CHECK(second.status() == 0);
  CHECK(second.out() == "d!\n");
  CHECK(core.starts() == 1);
  CHECK(core.alive() == 1);
}

namespace {

std::string learned(Pool& pool) {
  bool known = false;
  std::string text;
  for (const auto& arg : pool.learned_args(&known)) text += (text.empty() ? "" : " ") + arg;
  return known ? text : "(learning)";
}

// Numbers its lines across calls, as awk's NR does.
Script counting() {
  Script script;
  script.on_line = [](FakeTool& tool, std::string_view line) {
    tool.print(std::to_string(++tool.state) + ": " + std::string(line) + "\n");
  };
  return script;
}

}  // namespace

TEST_CASE("learning: what the first calls show decides how the tool is served", "[core][learning]") {
  SECTION("a tool that flushes on a pipe is served through a pipe, one instance for every call") {
    Core core(flushing());
    CHECK(core.call_with("a\n").out() == "a!\n");
    CHECK(learned(core.pool()) == "");
    CHECK_FALSE(core.pool().stateful());
    for (int i = 0; i < 3; ++i) CHECK(core.call_with("x\ny\n").out() == "x!\ny!\n");
    CHECK(core.starts() == 1);
  }
  SECTION("a tool that buffers on a pipe: its first call is a direct run, then it is served on a terminal") {
    Script script = flushing();
    script.buffered = true;
    Core core(script);
    FakeClient& first = core.call_with("a\nb\n");
    CHECK(first.status() == 0);
    CHECK(first.out() == "a!\nb!\n");
    FakeClient& second = core.call_with("c\n");
    CHECK(second.status() == 0);
    CHECK(second.out() == "c!\n");
    CHECK(learned(core.pool()) == "--pty");
    // The pipe candidate served the first call and exited with its input;
    // only then did the terminal one start: never two at once.
    CHECK(core.starts() == 2);
    CHECK(core.peak_alive() == 1);
    CHECK(core.tool(1).stdout_kind() == StdoutKind::kTerminal);
    INFO(learned(core.pool()));
  }
  SECTION("a tool that keeps state gets an instance of its own for every call") {
    Core core(counting());
    FakeClient& first = core.call_with("a\nb\n");
    CHECK(first.status() == 0);
    CHECK(first.out() == "1: a\n2: b\n");
    CHECK(core.pool().stateful());
    FakeClient& second = core.call_with("c\n");
    CHECK(second.out() == "1: c\n");
    CHECK(second.status() == 0);
  }
  SECTION("a tool whose answers vary in length gives each call the direct run's bytes") {
    // sed 's/x/\n/': one line per record, two where the record holds an x.
    Script script;
    script.on_line = [](FakeTool& tool, std::string_view line) {
      std::string text(line);
      if (auto x = text.find('x'); x != std::string::npos) text[x] = '\n';
      tool.print(text + "\n");
    };
    Core core(script);
    CHECK(core.call_with("a\nb\nc\n").out() == "a\nb\nc\n");
    FakeClient& varying = core.call_with("d x e\nf\ng\n");
    CHECK(varying.status() == 0);
    CHECK(varying.out() == "d \n e\nf\ng\n");
    CHECK(core.starts() == 1);
  }
  SECTION("a tool that never answers its record fails that call when -w runs out, naming the record") {
    Script script = flushing();
    script.on_line = [](FakeTool& tool, std::string_view line) {
      if (line == "stop") return tool.hang();
      tool.print(std::string(line) + "!\n");
    };
    Core core(script);
    CHECK(core.call_with("a\n").out() == "a!\n");
    CallOptions options;
    options.record_timeout = 1;
    FakeClient& call = core.call_with("b\nstop\n", options);
    REQUIRE(call.done());
    CHECK(call.status() != 0);
    INFO(call.message());
    CHECK(call.message().find("did not answer record 2 of this call") != std::string::npos);
    CHECK(core.tool(0).killed());
    // A fresh instance serves the next call.
    CHECK(core.call_with("c\n").out() == "c!\n");
  }
}

TEST_CASE("framing given: a tool that breaks it fails the call loudly, never with other bytes", "[core]") {
  // Two lines for every record, under --pipe (one line per answer).
  Script script;
  script.on_line = [](FakeTool& tool, std::string_view line) { tool.print(std::string(line) + "\nextra\n"); };
  Core core(script, [](PoolConfig& config) { config.learn = false; });
  FakeClient& call = core.call_with("a\nb\n");
  REQUIRE(call.done());
  CHECK(call.status() != 0);
  CHECK_FALSE(call.message().empty());
  // What it did get is a prefix of the direct run's bytes.
  CHECK(std::string("a\nextra\nb\nextra\n").rfind(call.out(), 0) == 0);
}

namespace {

// Echoes, and dies (status 3) on the line "die" while *deaths_left > 0.
Script dying(std::shared_ptr<int> deaths_left) {
  Script script;
  script.on_line = [deaths_left](FakeTool& tool, std::string_view line) {
    if (line == "die" && *deaths_left > 0) {
      --*deaths_left;
      return tool.exit(3);
    }
    tool.print(std::string(line) + "!\n");
  };
  return script;
}

}  // namespace

TEST_CASE("a batch on an instance that dies mid-batch", "[core][failure]") {
  SECTION("without --retry its call fails with the tool's status; the next call gets a fresh instance") {
    Core core(dying(std::make_shared<int>(1)));
    CHECK(core.call_with("a\n").out() == "a!\n");
    FakeClient& call = core.call_with("b\ndie\nc\n");
    REQUIRE(call.done());
    CHECK(call.status() != 0);
    CHECK(call.message().find("status 3") != std::string::npos);
    CHECK(std::string("b!\n").rfind(call.out(), 0) == 0);
    CHECK(core.call_with("d\n").out() == "d!\n");
    CHECK(core.starts() == 2);
    CHECK(core.alive() == 1);
  }
  SECTION("with --retry 1 its records go to a fresh instance and the call gets every answer") {
    Core core(dying(std::make_shared<int>(1)));
    CHECK(core.call_with("a\n").out() == "a!\n");
    CallOptions options;
    options.retries = 1;
    FakeClient& call = core.call_with("b\ndie\nc\n", options);
    CHECK(call.status() == 0);
    CHECK(call.out() == "b!\ndie!\nc!\n");
    CHECK(core.starts() == 2);
  }
  SECTION("with --retry 1 a record that kills it twice fails its own call") {
    Core core(dying(std::make_shared<int>(5)));
    CHECK(core.call_with("a\n").out() == "a!\n");
    CallOptions options;
    options.retries = 1;
    FakeClient& call = core.call_with("die\n", options);
    REQUIRE(call.done());
    CHECK(call.status() != 0);
    CHECK(call.out().empty());
    CHECK(core.starts() == 3);
  }
}

TEST_CASE("a caller that reads nothing for a while loses none of what the tool printed before it exited",
          "[core][output]") {
  // Every call is a direct run (the tool keeps state). The caller stops
  // reading: the daemon leaves the tool's output in its pipe, where the
  // last of it still is when the tool has exited. It is the caller's.
  Script script = counting();
  script.on_line = [](FakeTool& tool, std::string_view line) {
    size_t size = line == "a" ? 1 : 256 << 10;  // the state probe's record is short
    tool.print(std::to_string(++tool.state) + ":" + std::string(size, line[0]) + "\n");
  };
  Core core(script);
  CHECK(core.call_with("a\n").status() == 0);
  REQUIRE(core.pool().stateful());
  std::string input, expected;
  for (int i = 1; i <= 20; ++i) {
    input += std::string(1, static_cast<char>('a' + i)) + "\n";
    expected += std::to_string(i) + ":" + std::string(256 << 10, static_cast<char>('a' + i)) + "\n";
  }
  FakeClient& call = core.call();
  call.stop_reading(true);
  call.send(input);
  call.end_input();
  FakeTool& tool = core.tool(core.starts() - 1);
  CHECK(core.run_until([&] { return tool.exited(); }, milliseconds(3000)));
  core.run_for(milliseconds(3000));
  call.stop_reading(false);
  REQUIRE(core.run_until([&] { return call.done(); }));
  CHECK(call.status() == 0);
  CHECK(call.out().size() == expected.size());
  CHECK((call.out() == expected));  // not shown: megabytes
}

TEST_CASE("a tool that fails at start again and again is restarted ever more slowly, then given up",
          "[core][failure]") {
  // The first instance works until a record kills it; every later one
  // exits while loading (its model is gone).
  Script script = dying(std::make_shared<int>(1));
  script.on_start = [](FakeTool& tool) {
    if (tool.number() > 0) tool.exit(1);
  };
  Core core(script);
  CHECK(core.call_with("a\n").out() == "a!\n");
  core.call_with("die\n");
  REQUIRE(core.run_until([&] { return core.fatal().has_value(); }, milliseconds(10000)));
  CHECK(core.fatal()->message.find("keeps failing at start-up") != std::string::npos);
  // The instance killed by a record is replaced at once, and so is the
  // first replacement to fail; then the pauses grow.
  REQUIRE(core.starts() == 5);
  auto gap = [&](int i) { return core.tool(i + 1).started_at() - core.tool(i).started_at(); };
  CHECK(gap(1) < milliseconds(20));
  CHECK(gap(2) >= milliseconds(100));
  CHECK(gap(3) >= milliseconds(200));
  CHECK(gap(3) > gap(2));
  core.run_for(milliseconds(5000));
  CHECK(core.starts() == 5);
  CHECK(core.alive() == 0);
}

TEST_CASE("recycling (--max-records): an instance that served its quota is replaced, with no call waiting",
          "[core][pool]") {
  Core core(flushing(), [](PoolConfig& config) { config.max_records = 4; });
  CHECK(core.call_with("a\nb\n").out() == "a!\nb!\n");
  CHECK(core.call_with("c\nd\ne\nf\ng\n").out() == "c!\nd!\ne!\nf!\ng!\n");
  core.run_for(milliseconds(100));
  // The old one was let go once its quota was served: its input closed,
  // it exited on its own. Its successor had loaded as a spare before, and
  // a new spare loads for the next turn: never more than one extra.
  CHECK(core.tool(0).exited());
  CHECK_FALSE(core.tool(0).killed());
  CHECK(core.starts() == 3);
  CHECK(core.alive() == 2);
  CHECK(core.peak_alive() == 2);
  int before = core.tool(1).lines();
  CHECK(core.call_with("h\n").out() == "h!\n");
  CHECK(core.tool(1).lines() == before + 1);
  CHECK(core.tool(2).lines() == 0);
}

TEST_CASE("a pool of -j 1:4 grows under load and retires what the load no longer needs", "[core][pool]") {
  Script script = slow(milliseconds(2));
  script.load = milliseconds(20);
  script.cpu_per_line = 0.002;
  Core core(script, [](PoolConfig& config) {
    config.instances = 4;
    config.min_instances = 1;
  });
  CHECK(core.call_with("a\n").out() == "a!\n");
  std::string input, expected;
  for (int i = 0; i < 300; ++i) {
    input += std::to_string(i) + "\n";
    expected += std::to_string(i) + "!\n";
  }
  std::vector<FakeClient*> calls;
  for (int i = 0; i < 4; ++i) {
    calls.push_back(&core.call());
    calls.back()->send(input);
    calls.back()->end_input();
  }
  REQUIRE(core.run_until([&] { return std::all_of(calls.begin(), calls.end(), [](auto* c) { return c->done(); }); },
                         milliseconds(20000)));
  for (auto* call : calls) {
    CHECK(call->status() == 0);
    CHECK(call->out() == expected);
  }
  CHECK(core.peak_alive() > 1);
  CHECK(core.peak_alive() <= 4);
  // Idle, the pool shrinks back to -j MIN, and no further.
  REQUIRE(core.run_until([&] { return core.alive() == 1; }, milliseconds(60000)));
  core.run_for(milliseconds(5000));
  CHECK(core.alive() == 1);
}

TEST_CASE("stopping the pool with calls in flight", "[core][stop]") {
  Core core(slow(milliseconds(50)));
  CHECK(core.call_with("a\n").out() == "a!\n");
  FakeClient& call = core.call();
  call.send("b\nc\nd\n");
  core.run_for(milliseconds(60));
  core.stop();
  REQUIRE(core.run_until([&] { return core.stopped(); }, milliseconds(10000)));
  CHECK(core.alive() == 0);
  // The call that was cut short is never told it succeeded.
  core.run_for(milliseconds(10));
  CHECK(call.status() != 0);
}

TEST_CASE("a call whose client vanishes mid-call is freed: only the daemon owns a call", "[core][ownership]") {
  Core core(slow(milliseconds(20)));
  CHECK(core.call_with("a\n").out() == "a!\n");
  FakeClient& gone = core.call();
  gone.send("b\nc\nd\n");
  core.run_for(milliseconds(5));
  // Its records are in flight on the tool when the client goes.
  gone.vanish();
  core.run_for(milliseconds(200));
  // No batch, queue or instance kept it alive once the daemon let it go,
  // and no cycle needed breaking for that.
  CHECK_FALSE(core.session_exists(1));
  CHECK(core.call_with("e\n").out() == "e!\n");
  CHECK(core.starts() == 1);
}

TEST_CASE("the first call's client vanishes while the tool is learned on it: later calls are served",
          "[core][ownership][learning]") {
  // At each stage of learning: before the first answer, while the call is
  // served, after its input is all in; on a tool that flushes, one that
  // buffers (its first call a direct run) and one that keeps state.
  Script buffering = slow(milliseconds(20));
  buffering.buffered = true;
  Script stateful = counting();
  const std::vector<std::pair<const char*, Script>> tools = {{"flushing", slow(milliseconds(20))},
                                                             {"buffering", buffering},
                                                             {"stateful", stateful}};
  for (const auto& [name, script] : tools) {
    for (int vanish_ms : {8, 30, 70}) {
      for (bool ended : {false, true}) {
        INFO(name << ", the client vanishes after " << vanish_ms << " ms, its input " << (ended ? "ended" : "open"));
        Core core(script);
        FakeClient& first = core.call();
        first.send("a\nb\nc\n");
        if (ended) first.end_input();
        core.run_for(milliseconds(vanish_ms));
        first.vanish();
        core.run_for(milliseconds(300));
        CHECK_FALSE(core.session_exists(0));
        FakeClient& next = core.call_with("d\n");
        CHECK(next.status() == 0);
        CHECK(next.out() == (std::string(name) == "stateful" ? "1: d\n" : "d!\n"));
        CHECK(core.alive() <= 1);
      }
    }
  }
}
