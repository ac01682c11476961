#include "common/run_options.h"

#include <cmath>
#include <cstdio>

namespace viasock {
std::string number_text(double value) {
  char text[64];
  std::snprintf(text, sizeof text, "%.17g", value);
  return text;
}

std::string validate(const RunOptions& o) {
  if (o.tool.empty()) return "no TOOL given";
  for (const RecordFormat* format : {&o.input_format, &o.output_format}) {
    std::string problem = check_record_format(*format);
    if (!problem.empty()) return problem;
  }
  bool null_in = o.input_format.kind == RecordFormat::kNull;
  bool null_out = o.output_format.kind == RecordFormat::kNull;
  if (null_in != null_out) return "-0/--null cannot be combined with -t or -T";
  if (o.prelude_records < 0) return "-P must not be negative";
  if (o.prelude_lines < 0) return "--prelude-lines must not be negative";
  if (o.prelude_records > 0 && o.prelude_lines > 0) return "-P and --prelude-lines exclude each other";
  if (o.pty && o.line_buffered) return "--pty and -L exclude each other: choose one way to make the tool flush";
  if (o.pty && o.pipe) return "--pty and --pipe exclude each other: the tool's stdout is one or the other";
  if (std::isnan(o.record_timeout)) return "-w needs a number of seconds (0 or inf: no timeout)";
  if (std::isnan(o.idle_timeout)) return "-W needs a number of seconds (0 or inf: never)";
  if (o.record_timeout < 0) return "-w must not be negative";
  if (o.idle_timeout < 0) return "-W must not be negative";
  if (o.max_record < 1024) return "--max-record must be at least 1K";
  if (o.max_answer < 1024) return "--max-answer must be at least 1K";
  if (o.instances < 1 || o.instances > 1024) return "-j must be between 1 and 1024";
  if (o.min_instances < 0 || o.min_instances > o.instances) return "-j MIN:MAX needs 1 <= MIN <= MAX";
  return "";
}

std::string parse_instances(const std::string& text, RunOptions* o) {
  auto number = [](const std::string& word, int* value) {
    if (word.empty() || word.size() > 6 || word.find_first_not_of("0123456789") != std::string::npos) return false;
    *value = std::stoi(word);
    return true;
  };
  size_t colon = text.find(':');
  int min = 0, max = 0;
  if (colon == std::string::npos) {
    if (!number(text, &max)) return "-j wants N or MIN:MAX, not '" + text + "'";
  } else if (!number(text.substr(0, colon), &min) || !number(text.substr(colon + 1), &max) || min < 1 || min > max) {
    return "-j wants N or MIN:MAX with 1 <= MIN <= MAX, not '" + text + "'";
  }
  o->instances = max;
  // MIN == MAX is a fixed pool, as -j N.
  o->min_instances = colon == std::string::npos || min == max ? 0 : min;
  return "";
}

std::string instances_text(const RunOptions& o) {
  if (o.min_instances == 0) return std::to_string(o.instances);
  return std::to_string(o.min_instances) + ":" + std::to_string(o.instances);
}

void normalize_timeouts(RunOptions& o) {
  constexpr double kForever = 1e9;
  for (double* timeout : {&o.record_timeout, &o.idle_timeout})
    if (*timeout > kForever) *timeout = 0;
}

bool learns_tool(const RunOptions& o) {
  return o.input_format.kind == RecordFormat::kLine && o.output_format.kind == RecordFormat::kLine &&
         o.prelude_records == 0 && o.prelude_lines == 0 && !o.line_buffered && !o.pty && !o.pipe;
}

std::vector<std::string> identity_args(const RunOptions& o) {
  std::vector<std::string> args;
  if (o.input_format.kind == RecordFormat::kNull) {
    args.push_back("-0");
  } else {
    if (o.input_format.kind == RecordFormat::kRegex) args.insert(args.end(), {"-t", o.input_format.regex});
    if (o.output_format.kind == RecordFormat::kRegex) args.insert(args.end(), {"-T", o.output_format.regex});
  }
  if (o.prelude_records) args.insert(args.end(), {"-P", std::to_string(o.prelude_records)});
  if (o.prelude_lines) args.insert(args.end(), {"--prelude-lines", std::to_string(o.prelude_lines)});
  if (o.line_buffered) args.push_back("-L");
  if (o.pty) args.push_back("--pty");
  if (o.pipe) args.push_back("--pipe");
  for (const auto& path : o.watch) args.insert(args.end(), {"--watch", path});
  for (const auto& name : o.env) args.insert(args.end(), {"--env", name});
  if (o.no_track) args.push_back("--no-track");
  return args;
}

std::vector<std::string> behaviour_args(const RunOptions& o) {
  std::vector<std::string> args = identity_args(o);
  args.insert(args.end(), {"-w", number_text(o.record_timeout), "-W", number_text(o.idle_timeout)});
  args.insert(args.end(), {"-j", instances_text(o)});
  if (o.max_records) args.insert(args.end(), {"--max-records", std::to_string(o.max_records)});
  return args;
}

}  // namespace viasock
