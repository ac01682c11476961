#include "common/regex_size.h"

#include <algorithm>
#include <cctype>
#include <cstring>
#include <vector>

namespace viasock {
namespace {

// Sizes saturate here: anything above the limit is as bad as anything else.
constexpr size_t kCap = kMaxRegexPositions + 1;

size_t capped_product(size_t a, size_t b) { return b != 0 && a > kCap / b ? kCap : std::min(a * b, kCap); }

// Reads an interval '{m}', '{m,}', '{m,n}' or '{,n}' at pattern[*at] == '{'. Returns
// how many copies of the repeated item it makes (n, m+1 when unbounded: m
// copies and a star) and moves *at to the '}', or returns 0 when this is no
// interval (regcomp then decides what the brace is).
size_t interval_copies(const std::string& pattern, size_t* at) {
  size_t i = *at + 1;
  auto number = [&](size_t* value) {
    size_t start = i;
    *value = 0;
    while (i < pattern.size() && std::isdigit(static_cast<unsigned char>(pattern[i]))) {
      *value = std::min<size_t>(*value * 10 + static_cast<size_t>(pattern[i] - '0'), kCap);
      ++i;
    }
    return i > start;
  };
  size_t low = 0, high = 0;
  bool has_low = number(&low);
  bool bounded = true, has_comma = false;
  if (i < pattern.size() && pattern[i] == ',') {
    ++i;
    has_comma = true;
    bounded = number(&high);
  } else {
    high = low;
  }
  // glibc reads '{,n}' as '{0,n}'.
  if (!(has_low || has_comma) || i >= pattern.size() || pattern[i] != '}') return 0;
  *at = i;
  return std::max<size_t>(1, bounded ? high : low + 1);
}

// Skips a bracket expression starting at pattern[*at] == '['; *at ends on
// its closing ']' (or the end, when it has none: regcomp reports that).
void skip_bracket(const std::string& pattern, size_t* at) {
  size_t i = *at + 1;
  if (i < pattern.size() && pattern[i] == '^') ++i;
  if (i < pattern.size() && pattern[i] == ']') ++i;  // a leading ']' is a member
  while (i < pattern.size() && pattern[i] != ']') {
    // '[:alpha:]', '[.-.]' and '[=a=]' end with their own ':]', '.]', '=]'.
    if (pattern[i] == '[' && i + 1 < pattern.size() && std::strchr(":.=", pattern[i + 1])) {
      size_t close = pattern.find(std::string{pattern[i + 1], ']'}, i + 2);
      i = close == std::string::npos ? pattern.size() : close + 2;
      continue;
    }
    ++i;
  }
  *at = std::min(i, pattern.size());
}

}  // namespace

std::string check_regex_size(const std::string& pattern) {
  // One entry per open group: the positions so far, and those of the last
  // item (what a following repetition copies); 0 when there is none.
  struct Group {
    size_t total = 0;
    size_t last = 0;
  };
  std::vector<Group> groups(1);
  bool after_repetition = false;
  auto add_item = [&](size_t size) {
    groups.back().total = std::min(groups.back().total + size, kCap);
    groups.back().last = size;
    after_repetition = false;
  };
  for (size_t i = 0; i < pattern.size(); ++i) {
    char c = pattern[i];
    size_t copies = 0;
    if (c == '*' || c == '?') copies = 1;
    if (c == '+') copies = 2;
    if (c == '{') copies = interval_copies(pattern, &i);
    if (copies != 0 && groups.back().last != 0) {
      if (after_repetition)
        return "repetition operators follow one another (at offset " + std::to_string(i) +
               "), which POSIX leaves undefined: put what is repeated in parentheses";
      Group& group = groups.back();
      size_t repeated = capped_product(group.last, copies);
      group.total = std::min(group.total - group.last + repeated, kCap);
      group.last = repeated;
      after_repetition = true;
      continue;
    }
    switch (c) {
      case '\\':
        ++i;
        add_item(1);
        break;
      case '[':
        skip_bracket(pattern, &i);
        add_item(1);
        break;
      case '(':
        groups.emplace_back();
        after_repetition = false;
        break;
      case ')':
        if (groups.size() > 1) {
          size_t inner = std::max<size_t>(1, groups.back().total);
          groups.pop_back();
          add_item(inner);
        } else {
          add_item(1);
        }
        break;
      case '|':
        groups.back().last = 0;
        after_repetition = false;
        break;
      default: add_item(1);
    }
  }
  size_t total = 0;
  for (const Group& group : groups) total = std::min(total + group.total, kCap);
  if (total > kMaxRegexPositions)
    return "it repeats too much: compiled, it would hold more than " + std::to_string(kMaxRegexPositions) +
           " positions (each '+' doubles what it repeats, 'x{1,n}' makes n copies); use a pattern with fewer repetitions";
  return "";
}

}  // namespace viasock
