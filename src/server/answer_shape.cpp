#include "server/answer_shape.h"

#include <algorithm>
#include <string_view>

namespace viasock {
namespace {

std::vector<std::string_view> split_lines(std::string_view answer) {
  std::vector<std::string_view> lines;
  while (!answer.empty()) {
    size_t newline = answer.find('\n');
    if (newline == std::string_view::npos) return {};  // unterminated: no line shape
    lines.push_back(answer.substr(0, newline));
    answer.remove_prefix(newline + 1);
  }
  return lines;
}

bool all_of_answers(const std::vector<std::string>& answers, bool (*test)(const std::vector<std::string_view>&)) {
  return std::all_of(answers.begin(), answers.end(), [test](const std::string& answer) {
    std::vector<std::string_view> lines = split_lines(answer);
    return !lines.empty() && test(lines);
  });
}

bool one_line(const std::vector<std::string_view>& lines) { return lines.size() == 1; }

bool ends_with_only_blank(const std::vector<std::string_view>& lines) {
  if (!lines.back().empty()) return false;
  return std::none_of(lines.begin(), lines.end() - 1, [](std::string_view line) { return line.empty(); });
}

bool null_records(const std::vector<std::string>& answers) {
  return std::all_of(answers.begin(), answers.end(), [](const std::string& answer) {
    return !answer.empty() && answer.back() == '\0' && answer.find('\0') == answer.size() - 1;
  });
}

// The common last line of multi-line answers that appears nowhere else, or
// false.
bool common_sentinel(const std::vector<std::string>& answers, std::string* sentinel) {
  std::vector<std::string_view> first = split_lines(answers.front());
  if (first.size() < 2 || first.back().empty()) return false;
  *sentinel = std::string(first.back());
  return std::all_of(answers.begin(), answers.end(), [&](const std::string& answer) {
    std::vector<std::string_view> lines = split_lines(answer);
    return lines.size() >= 2 && lines.back() == *sentinel &&
           std::count(lines.begin(), lines.end(), std::string_view(*sentinel)) == 1;
  });
}

}  // namespace

std::string exact_line_regex(const std::string& line) {
  std::string regex = "^";
  for (char c : line) {
    if (std::string_view(".[]{}()\\*+?^$|").find(c) != std::string_view::npos) regex += '\\';
    regex += c;
  }
  return regex + "$";
}

AnswerShape infer_answer_shape(const std::vector<std::string>& answers) {
  AnswerShape shape;
  if (answers.empty()) return shape;
  // An empty line alone fits both lines and blank-line-ended blocks.
  bool all_blank = std::all_of(answers.begin(), answers.end(), [](const std::string& a) { return a == "\n"; });
  if (all_blank) return shape;
  if (all_of_answers(answers, one_line)) {
    shape = {true, RecordFormat{}, "one line"};
  } else if (all_of_answers(answers, ends_with_only_blank)) {
    shape = {true, RecordFormat{RecordFormat::kRegex, "^$"}, "lines ended by a blank line"};
  } else if (null_records(answers)) {
    shape = {true, RecordFormat{RecordFormat::kNull, ""}, "ended by a NUL byte"};
  } else if (std::string sentinel; answers.size() >= 2 && common_sentinel(answers, &sentinel)) {
    shape = {true, RecordFormat{RecordFormat::kRegex, exact_line_regex(sentinel)}, "lines ended by '" + sentinel + "'"};
  }
  return shape;
}

}  // namespace viasock
