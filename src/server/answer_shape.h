// Learning how a tool's answers end, from answers delimited by quiescence
// (each is everything the tool printed between taking one record and waiting
// for the next). Once every answer seen has one shape that a record framer can
// find in a stream, the daemon pipelines records; until then it keeps serving
// one record at a time, which is slower but right whatever the shape.
#pragma once

#include <string>
#include <vector>

#include "common/record_framer.h"

namespace viasock {

struct AnswerShape {
  bool decided = false;
  RecordFormat format;      // when decided
  std::string description;  // "one line", "ended by a blank line", ...
};

// The shape of `answers` (each non-empty), or undecided when they do not
// agree or are too few to tell:
// - every answer one line, one of them not empty: lines;
// - every answer ends with its only blank line, one of them longer: '^$';
// - NUL-terminated answers holding one NUL each: NUL records;
// - two or more answers of several lines ending with the same line that
//   appears nowhere else: '^THAT LINE$' (an "EOS" sentinel).
AnswerShape infer_answer_shape(const std::vector<std::string>& answers);

// A POSIX ERE matching exactly `line`.
std::string exact_line_regex(const std::string& line);

}  // namespace viasock
