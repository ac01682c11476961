// What the caller is told when a tool does not behave as a record filter
// served the way the daemon chose: what the tool did, and only the options
// that could change that. `viasock probe` is never offered here: it runs the
// same learning with the same options, so it fails where the call failed.
//
// Pure functions of what the daemon knows about the tool (tested on their
// own); Pool fills ToolFacts from its configuration.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "common/record_framer.h"
#include "server/batch.h"

namespace viasock {

// Why the tool cannot be served, for every call: its status and message,
// and, for a tool that exited at start without reading its input (a usage
// text), what it printed on stdout, which a direct run would show too.
struct ToolFailure {
  int status = 0;
  std::string message;
  std::string output;
};

struct ToolFacts {
  std::string name;            // the tool as the user gave it
  std::string flush_hint;      // its own option to flush ("'python3 -u'"), or ""
  bool framing_given = false;  // -t, -T, -0, -P, -L, --pty, --pipe: nothing learned
  bool line_buffered = false;  // -L: run under stdbuf -oL
  bool on_terminal = false;    // its stdout is a terminal (--pty, or learned)
  RecordFormat output_format;  // -T, -0: how answers end
};

// How a message names one record: "record 3 of this call ('One. Two.')",
// from its number and first bytes (shortened, made printable); `call` says
// whose call it was when not the caller's own.
std::string record_text(uint64_t number, std::string_view start, std::string_view call = "this call");
// The record a batch's instance stopped at, `answered` records into it
// (its bytes are kept for the batch's first record only).
std::string record_text(const Batch& batch, size_t answered);

// The tool read `records` records and waits for more input without
// answering; `on_pipe_and_terminal`: learning saw it do so on both.
// `first`: record_text of the first of them, when known.
std::string no_answer_message(const ToolFacts& tool, size_t records, bool on_pipe_and_terminal,
                              const std::string& first = "");

// Framing was given and the tool's output did not fit it: `extra_bytes`
// printed beyond the answers expected, or `unanswered` records left without
// one when it waited for input.
// `first`: record_text of the first record left unanswered, when known.
std::string framing_broken_message(const ToolFacts& tool, size_t extra_bytes, size_t unanswered,
                                   const std::string& first = "");

// The tool exited with `status` at start, before it read any input.
std::string quit_at_start_message(const ToolFacts& tool, int status);

// The tool printed `bytes` that answer no record, under a learned shape.
std::string unattributed_output_message(const ToolFacts& tool, size_t bytes);

// The tool waits for input after `printed` of the `expected` prelude units
// it was said to print (`in_lines`: --prelude-lines, else -P records).
std::string prelude_incomplete_message(const ToolFacts& tool, int printed, int expected, bool in_lines);

// Learning cannot work on this system or for this tool, for `reason`.
std::string cannot_learn_message(const ToolFacts& tool, const std::string& reason);

std::string unobservable_message(const ToolFacts& tool);

// 33554432 -> "32M (33554432 bytes)", as --max-record and --max-answer take it.
std::string size_text(uint64_t bytes);

// The tool printed more than `limit` bytes of one answer (--max-answer).
std::string answer_too_large_message(const ToolFacts& tool, uint64_t limit);

// What ends a message about a tool that exited: the last lines of its
// stderr, or "" when it printed none. A caller that heard the tool's stderr
// live gets the message without it (without_stderr_tail): said once.
std::string stderr_tail_detail(const std::string& tail);
std::string without_stderr_tail(const std::string& message);

// The tool buffers on a pipe and prints otherwise on a terminal.
std::string terminal_differs_message(const ToolFacts& tool);

}  // namespace viasock
