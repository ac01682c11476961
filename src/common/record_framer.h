// Record framing: where one record ends in a byte stream (docs/DESIGN.md, "Record
// formats"). The daemon cuts client input into records with the input framer
// and the tool's output into answers with the output framer.
#pragma once

#include <regex.h>

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

namespace viasock {

struct RecordFormat {
  enum Kind { kLine, kNull, kRegex } kind = kLine;
  std::string regex;  // kRegex: a record ends with the line matching this POSIX ERE
};

// Validates the format; returns an error message, or "" when it is usable.
std::string check_record_format(const RecordFormat& format);

class RecordFramer {
 public:
  static constexpr size_t npos = static_cast<size_t>(-1);
  virtual ~RecordFramer() = default;

  // `data` starts at a record boundary. Returns the offset just past the end
  // of its first complete record, or npos. `*resume` is an offset before which
  // the caller already knows no record ends; when npos is returned it is moved
  // forward so that a later call with more data does not scan the same bytes.
  virtual size_t find_end(std::string_view data, size_t* resume) const = 0;

  // Bytes to append to an unterminated final record so that it ends as a
  // record does (a newline for line records, a NUL for null records).
  virtual std::string terminate(std::string_view partial) const = 0;

  // Counts complete records at the start of `data`, at most `max_records`,
  // and stores the offset just past the last one in `*end`.
  virtual size_t count(std::string_view data, size_t max_records, size_t* end) const;
};

// A framer for the format; check_record_format() must have accepted it.
std::unique_ptr<RecordFramer> make_framer(const RecordFormat& format);
// One line per record, shared (a framer keeps no state between calls).
const RecordFramer& line_framer();

}  // namespace viasock
