#include <catch2/catch.hpp>

#include "server/tool_messages.h"

using namespace viasock;

namespace {

ToolFacts python() {
  ToolFacts facts;
  facts.name = "tagger.py";
  facts.flush_hint = "'python3 -u'";
  return facts;
}

bool has(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

}  // namespace

TEST_CASE("a tool that does not answer is told the options that could change that, and only those") {
  SECTION("on a pipe: several lines, its own flush option, -L or --pty, or nothing for sort") {
    std::string message = no_answer_message(python(), 1, false);
    CHECK(has(message, "tool 'tagger.py' read a record and waits for more input without answering"));
    CHECK(has(message, "-t REGEX"));
    CHECK(has(message, "'python3 -u'"));
    CHECK(has(message, "-L or --pty"));
    CHECK(has(message, "viasock cannot serve it"));
  }
  SECTION("records are counted") { CHECK(has(no_answer_message(python(), 3, false), "read 3 records")); }
  SECTION("seen silent on a terminal too: -L and --pty cannot help") {
    std::string message = no_answer_message(python(), 1, true);
    CHECK(has(message, "on a pipe (its first call, served as a direct run) and on a terminal"));
    CHECK_FALSE(has(message, "-L"));
    CHECK_FALSE(has(message, "--pty"));
    CHECK(has(message, "make it flush each answer"));
  }
  SECTION("its stdout a terminal already (--pty): no -L or --pty either") {
    ToolFacts facts = python();
    facts.on_terminal = true;
    CHECK_FALSE(has(no_answer_message(facts, 1, false), "--pty"));
  }
  SECTION("under -L: --pty or its own option, not -L again") {
    ToolFacts facts = python();
    facts.line_buffered = true;
    std::string message = no_answer_message(facts, 1, false);
    CHECK(has(message, "-L does not reach its buffer"));
    CHECK(has(message, "'python3 -u') or --pty"));
  }
}

TEST_CASE("no message about a tool's behaviour sends the user to probe, which would fail the same way") {
  ToolFacts given = python();
  given.framing_given = true;
  for (const std::string& message :
       {no_answer_message(python(), 1, false), no_answer_message(python(), 1, true),
        framing_broken_message(given, 10, 0), framing_broken_message(given, 0, 2),
        unattributed_output_message(python(), 5), unattributed_output_message(given, 5),
        prelude_incomplete_message(python(), 1, 2, true), cannot_learn_message(python(), "no /proc"),
        unobservable_message(python()), terminal_differs_message(python())}) {
    CAPTURE(message);
    CHECK_FALSE(has(message, "probe"));
    CHECK(has(message, "tagger.py"));
  }
}

TEST_CASE("a broken framing names the framing given and how to let viasock learn instead") {
  ToolFacts facts = python();
  facts.framing_given = true;
  CHECK(has(framing_broken_message(facts, 10, 0),
            "printed 10 bytes more than the answers the framing given (one line per record) expects"));
  facts.output_format.kind = RecordFormat::kRegex;
  facts.output_format.regex = "^$";
  std::string message = framing_broken_message(facts, 0, 2);
  CHECK(has(message, "waits for input with 2 record(s) left without the answer the framing given (-T '^$') expects"));
  CHECK(has(message, "drop the framing options"));
  facts.output_format.kind = RecordFormat::kNull;
  CHECK(has(framing_broken_message(facts, 1, 0), "-0: one NUL-terminated answer per record"));
}

TEST_CASE("a prelude cut short mentions buffering only where the tool may still buffer") {
  CHECK(has(prelude_incomplete_message(python(), 1, 2, true), "after printing 1 of its 2 line(s) (--prelude-lines 2)"));
  CHECK(has(prelude_incomplete_message(python(), 0, 1, false), "or it buffers its output (-L, --pty)"));
  ToolFacts facts = python();
  facts.on_terminal = true;
  CHECK_FALSE(has(prelude_incomplete_message(facts, 0, 1, false), "buffers"));
}

TEST_CASE("a tool that exits at start is told whose status the call ends with") {
  std::string message = quit_at_start_message(python(), 2);
  CHECK(has(message, "tool 'tagger.py' exited with status 2 at start, before it read any input"));
  CHECK(has(message, "the tool's own status"));
  CHECK_FALSE(has(message, "probe"));
}

TEST_CASE("a message names the record by its number in the call and its first bytes") {
  CHECK(record_text(3, "One. Two.\n") == "record 3 of this call ('One. Two.')");
  CHECK(record_text(2, "\n") == "record 2 of this call (an empty line)");
  CHECK(record_text(1, "a\tb'c\n") == "record 1 of this call ('a\\x09b\\x27c')");
  CHECK(record_text(1, "a sentence far longer than what is shown\n") ==
        "record 1 of this call ('a sentence far longer th...')");
  CHECK(record_text(1, "pear\n", "its first call") == "record 1 of its first call ('pear')");
  CHECK(record_text(0, "x\n") == "a record");
  Batch batch;
  batch.first_record = 5;
  batch.first_bytes = "five\n";
  CHECK(record_text(batch, 0) == "record 5 of this call ('five')");
  CHECK(record_text(batch, 2) == "record 7 of this call");
  std::string message = no_answer_message(python(), 1, false, record_text(2, "\n"));
  CHECK(has(message, "read record 2 of this call (an empty line) and waits for more input without answering"));
}

TEST_CASE("framing given and a record left unanswered: the message names it") {
  ToolFacts facts = python();
  facts.framing_given = true;
  CHECK(has(framing_broken_message(facts, 0, 1, "record 2 of this call ('stop')"),
            "waits for input with record 2 of this call ('stop') left without the answer"));
  CHECK(has(framing_broken_message(facts, 0, 3, "record 2 of this call ('stop')"),
            "waits for input with 3 record(s), the first record 2 of this call ('stop'), left"));
  CHECK(has(framing_broken_message(facts, 0, 3), "waits for input with 3 record(s) left"));
}
