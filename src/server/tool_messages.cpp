#include "server/tool_messages.h"

#include <cstdio>
#include <string_view>
#include <vector>

namespace viasock {
namespace {

std::string quoted(const ToolFacts& tool) { return "tool '" + tool.name + "'"; }

std::string joined(const std::vector<std::string>& parts, const char* separator) {
  std::string text;
  for (const auto& part : parts) {
    if (!text.empty()) text += separator;
    text += part;
  }
  return text;
}

// What may make a tool that buffers its output answer each record.
std::string flush_advice(const ToolFacts& tool, bool seen_on_terminal) {
  // A terminal is what -L and --pty give; a tool that buffers there too
  // sets its own buffer, and only the tool can change that.
  if (tool.on_terminal || seen_on_terminal)
    return "if it buffers its output even on a terminal, make it flush each answer";
  std::string own = tool.flush_hint.empty() ? "" : "its own option (" + tool.flush_hint + ") or ";
  if (tool.line_buffered)
    return "if it buffers its output, -L does not reach its buffer (it sets its own, or is linked statically): give " +
           own + "--pty";
  return "if it buffers its output, give " + own + "-L or --pty";
}

std::string answer_framing(const ToolFacts& tool) {
  const RecordFormat& format = tool.output_format;
  return format.kind == RecordFormat::kNull    ? "-0: one NUL-terminated answer per record"
         : format.kind == RecordFormat::kRegex ? "-T '" + format.regex + "'"
                                               : "one line per record";
}

}  // namespace

std::string record_text(uint64_t number, std::string_view start, std::string_view call) {
  if (number == 0) return "a record";
  std::string text = "record " + std::to_string(number) + " of " + std::string(call);
  if (start.empty()) return text;
  constexpr size_t kShown = 24;
  size_t end = start.find('\n');
  std::string_view line = start.substr(0, end);
  if (line.empty()) return text + " (an empty line)";
  std::string shown;
  for (char c : line.substr(0, kShown)) {
    unsigned char u = static_cast<unsigned char>(c);
    if (u >= 0x20 && u < 0x7f && c != '\'') {
      shown += c;
    } else {
      char hex[8];
      snprintf(hex, sizeof hex, "\\x%02x", u);
      shown += hex;
    }
  }
  bool cut = line.size() > kShown || end == std::string_view::npos;
  return text + " ('" + shown + (cut ? "...'" : "'") + ")";
}

std::string record_text(const Batch& batch, size_t answered) {
  return record_text(batch.first_record == 0 ? 0 : batch.first_record + answered,
                     answered == 0 ? std::string_view(batch.first_bytes) : std::string_view());
}

std::string no_answer_message(const ToolFacts& tool, size_t records, bool on_pipe_and_terminal,
                              const std::string& first) {
  std::string which = first.empty() ? "a record" : first;
  std::string what =
      quoted(tool) + " read " +
      (records == 1 ? which : std::to_string(records) + " records" + (first.empty() ? "" : ", the first " + first)) +
      " and waits for more input without answering" +
      (on_pipe_and_terminal ? ", on a pipe (its first call, served as a direct run) and on a terminal" : "");
  std::vector<std::string> ways = {
      "if its records are several lines, give -t REGEX",
      flush_advice(tool, on_pipe_and_terminal),
      "if it answers only at the end of its input (like sort or tac), viasock cannot serve it",
  };
  return what + ": " + joined(ways, "; ");
}

std::string framing_broken_message(const ToolFacts& tool, size_t extra_bytes, size_t unanswered,
                                   const std::string& first) {
  std::string what =
      extra_bytes > 0
          ? quoted(tool) + " printed " + std::to_string(extra_bytes) +
                " bytes more than the answers the framing given (" + answer_framing(tool) + ") expects"
          : quoted(tool) + " waits for input with " +
                (unanswered == 1 && !first.empty() ? first
                                                   : std::to_string(unanswered) + " record(s)" +
                                                         (first.empty() ? "" : ", the first " + first + ",")) +
                " left without the answer the framing given (" + answer_framing(tool) +
                ") expects: it answers some records with nothing, or buffers its output";
  return what + "; so its answers cannot be matched to records: drop the framing options, and viasock learns how " +
         "the tool answers";
}

std::string unattributed_output_message(const ToolFacts& tool, size_t bytes) {
  std::string what = quoted(tool) + " printed " + std::to_string(bytes) +
                     " bytes that answer no record, so its answers cannot be matched to records";
  if (tool.framing_given)
    return what + ": give -T REGEX matching the end of its answers, or drop the framing options and viasock learns " +
           "how the tool answers";
  return what + "; if its answers are several lines, -T REGEX says how each ends";
}

std::string prelude_incomplete_message(const ToolFacts& tool, int printed, int expected, bool in_lines) {
  std::string unit = in_lines ? " line(s) (--prelude-lines " : " record(s) (-P ";
  std::string why = tool.on_terminal || tool.line_buffered
                        ? "its prelude is shorter"
                        : "its prelude is shorter, or it buffers its output (-L, --pty)";
  return quoted(tool) + " waits for input after printing " + std::to_string(printed) + " of its " +
         std::to_string(expected) + unit + std::to_string(expected) + "): " + why;
}

std::string cannot_learn_message(const ToolFacts& tool, const std::string& reason) {
  return reason + "; viasock cannot learn how '" + tool.name + "' answers: give its framing options (-T, -P) and -L " +
         "or --pty";
}

std::string unobservable_message(const ToolFacts& tool) {
  return "cannot tell when " + quoted(tool) +
         " waits for input on this system (no /proc/PID/syscall), so its answers cannot be matched to calls";
}

namespace {
constexpr std::string_view kStderrTailIntro = "; its stderr ends with:\n";
}

std::string size_text(uint64_t bytes) {
  const char* units = "KMG";
  std::string text = std::to_string(bytes);
  for (int i = 2; i >= 0; --i) {
    uint64_t unit = uint64_t{1} << (10 * (i + 1));
    if (bytes % unit == 0) {
      text = std::to_string(bytes / unit) + units[i];
      break;
    }
  }
  return text + " (" + std::to_string(bytes) + " bytes)";
}

std::string answer_too_large_message(const ToolFacts& tool, uint64_t limit) {
  return quoted(tool) + " printed an answer of more than " + size_text(limit) +
         " (--max-answer): check how its answers end (-T), or raise --max-answer";
}

std::string stderr_tail_detail(const std::string& tail) {
  return tail.empty() ? "" : std::string(kStderrTailIntro) + tail;
}

std::string quit_at_start_message(const ToolFacts& tool, int status) {
  // Its status may be one viasock also uses (argparse's 2 is viasock's
  // usage error): the message says whose it is.
  return quoted(tool) + " exited with status " + std::to_string(status) +
         " at start, before it read any input; the call ends with the tool's own status, as a direct run does";
}

std::string without_stderr_tail(const std::string& message) {
  return message.substr(0, message.find(kStderrTailIntro));
}

std::string terminal_differs_message(const ToolFacts& tool) {
  std::string own = tool.flush_hint.empty() ? "" : " (" + tool.flush_hint + ")";
  return quoted(tool) +
         " buffers its output on a pipe and prints differently on a terminal (colour, a banner), so viasock can "
         "serve it neither way; make it flush on a pipe" +
         own + ", or give --pty if the terminal's output is what you want";
}

}  // namespace viasock
