#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "common/call_options.h"
#include "common/proc_stat.h"
#include "server/answer_shape.h"
#include "server/quiescence.h"

using namespace viasock;

TEST_CASE("single lines are line records, once one is not blank") {
  CHECK(infer_answer_shape({"A\n"}).format.kind == RecordFormat::kLine);
  CHECK(infer_answer_shape({"A\n", "\n", "B\n"}).decided);
  // A blank line alone also fits blank-line-ended blocks.
  CHECK_FALSE(infer_answer_shape({"\n"}).decided);
  CHECK_FALSE(infer_answer_shape({}).decided);
}

TEST_CASE("blocks ended by their only blank line") {
  AnswerShape shape = infer_answer_shape({"*\n\n", "& helo 2 0: hole, help\n*\n\n", "\n"});
  REQUIRE(shape.decided);
  CHECK(shape.format.kind == RecordFormat::kRegex);
  CHECK(shape.format.regex == "^$");
  // A blank line inside an answer: '^$' would cut it in two.
  CHECK_FALSE(infer_answer_shape({"a\n\nb\n\n"}).decided);
}

TEST_CASE("a common sentinel line needs two answers") {
  CHECK_FALSE(infer_answer_shape({"x\ny\nEOS\n"}).decided);
  AnswerShape shape = infer_answer_shape({"x\ny\nEOS\n", "z\nEOS\n"});
  REQUIRE(shape.decided);
  CHECK(shape.format.regex == "^EOS$");
  // Two answers per record: the last lines differ, nothing marks the end.
  CHECK_FALSE(infer_answer_shape({"A:1\nB:1\n", "A:2\nB:2\n"}).decided);
  // The sentinel must not appear inside an answer.
  CHECK_FALSE(infer_answer_shape({"END\nx\nEND\n", "y\nEND\n"}).decided);
}

TEST_CASE("NUL-terminated answers") {
  AnswerShape shape = infer_answer_shape({std::string("a b\0", 4), std::string("c\nd\0", 4)});
  REQUIRE(shape.decided);
  CHECK(shape.format.kind == RecordFormat::kNull);
}

TEST_CASE("unterminated answers have no shape") { CHECK_FALSE(infer_answer_shape({"> ", "> "}).decided); }

TEST_CASE("a sentinel regex matches exactly its line") {
  CHECK(exact_line_regex("a.b*") == "^a\\.b\\*$");
  CHECK(exact_line_regex("(x)|[y]") == "^\\(x\\)\\|\\[y\\]$");
}

TEST_CASE("per-call options travel in HELLO") {
  CallOptions call;
  call.record_timeout = 2.5;
  call.idle_timeout = 0;
  call.instances = 4;
  call.quiet_tool = true;
  call.retries = 3;
  call.max_record = 300ull << 20;
  call.max_answer = 1ull << 30;
  CallOptions back;
  REQUIRE(decode_run_request(encode_run_request(call), &back));
  CHECK(back.record_timeout == 2.5);
  CHECK(back.idle_timeout == 0);
  CHECK(back.instances == 4);
  CHECK(back.quiet_tool);
  CHECK(back.retries == 3);
  CHECK(back.max_record == 300ull << 20);
  CHECK(back.max_answer == 1ull << 30);
  // A plain "run" (viasock client) says nothing about limits.
  REQUIRE(decode_run_request("run", &back));
  CHECK(back.idle_timeout < 0);
  CHECK(back.instances == 0);
  CHECK(back.max_record == 0);
  CHECK(back.max_answer == 0);
  // Garbage fields are ignored, other requests are not runs.
  REQUIRE(decode_run_request("run timeout=nan idle=-3 instances=x what=1 retry=1000 record=-5 answer=x", &back));
  CHECK(back.max_record == 0);
  CHECK(back.max_answer == 0);
  CHECK(back.record_timeout == 0);
  CHECK(back.retries == 0);
  CHECK(back.idle_timeout < 0);
  CHECK_FALSE(decode_run_request("status", &back));
  CHECK_FALSE(decode_run_request("runner", &back));
}

TEST_CASE("/proc lines are parsed") {
  CHECK(parse_stat_state("42 (python3) S 1 2 3") == 'S');
  CHECK(parse_stat_state("42 (a) (b) R 1") == 'R');
  CHECK(parse_stat_state("garbage") == '?');
  SyscallState read = parse_syscall("0 0x0 0x7ffd 0x1000 0x8 0x0 0x0 0x7ffd 0x7f65\n");
  CHECK_FALSE(read.running);
  CHECK(read.number == 0);
  CHECK(read.first_argument == 0);
  CHECK(parse_syscall("running\n").running);
  CHECK(parse_syscall("-1 0x7ffd 0x7f65\n").running);
  bool on_set = true;
  CHECK(waits_for_input(read.number, &on_set));
  CHECK_FALSE(on_set);
}
