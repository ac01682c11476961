#include "common/record_framer.h"

#include "common/regex_size.h"

#include <algorithm>
#include <cstring>
#include <stdexcept>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace viasock {
namespace {

// How often `c` occurs in p[0, n): 16 bytes at a time, counted in byte
// lanes and summed every 255 steps (std::count widens every lane to 64 bits
// and runs at a third of this speed).
size_t count_byte(const char* p, size_t n, char c) {
  size_t total = 0, i = 0;
#if defined(__SSE2__)
  const __m128i needle = _mm_set1_epi8(c);
  while (n - i >= 16) {
    __m128i lanes = _mm_setzero_si128();
    size_t steps = std::min<size_t>((n - i) / 16, 255);
    for (size_t step = 0; step < steps; ++step, i += 16) {
      __m128i bytes = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + i));
      lanes = _mm_sub_epi8(lanes, _mm_cmpeq_epi8(bytes, needle));
    }
    __m128i sums = _mm_sad_epu8(lanes, _mm_setzero_si128());
    total += static_cast<size_t>(_mm_cvtsi128_si64(sums) + _mm_cvtsi128_si64(_mm_unpackhi_epi64(sums, sums)));
  }
#endif
  for (; i < n; ++i) total += p[i] == c;
  return total;
}

// Line and NUL records: the fast path, one memchr per record.
class ByteFramer : public RecordFramer {
 public:
  explicit ByteFramer(char terminator) : terminator_(terminator) {}

  size_t find_end(std::string_view data, size_t* resume) const override {
    size_t from = std::min(*resume, data.size());
    const void* hit = std::memchr(data.data() + from, terminator_, data.size() - from);
    if (!hit) {
      *resume = data.size();
      return npos;
    }
    return static_cast<const char*>(hit) - data.data() + 1;
  }

  std::string terminate(std::string_view) const override { return std::string(1, terminator_); }

  // The hot path of a large stream: one vectorised count over the whole
  // buffer instead of a memchr call per record.
  // With a limit, whole blocks are counted the same way and memchr only
  // runs through the block where the limit falls.
  size_t count(std::string_view data, size_t max_records, size_t* end) const override {
    constexpr size_t kBlock = 16 * 1024;
    const char* begin = data.data();
    size_t records = 0;
    for (size_t pos = 0; pos < data.size() && records < max_records; pos += kBlock) {
      size_t n = std::min(kBlock, data.size() - pos);
      size_t here = count_byte(begin + pos, n, terminator_);
      if (records + here < max_records) {
        records += here;
        continue;
      }
      const char* at = begin + pos;
      while (records < max_records) {
        at = static_cast<const char*>(std::memchr(at, terminator_, begin + pos + n - at)) + 1;
        ++records;
      }
      *end = static_cast<size_t>(at - begin);
      return records;
    }
    const void* last = records ? memrchr(begin, terminator_, data.size()) : nullptr;
    *end = last ? static_cast<const char*>(last) - begin + 1 : 0;
    return records;
  }

 private:
  char terminator_;
};

// Records of whole lines, ended by the line that matches a POSIX ERE
// (matched without its newline).
class RegexFramer : public RecordFramer {
 public:
  explicit RegexFramer(const std::string& pattern) {
    if (!check_regex_size(pattern).empty() || regcomp(&regex_, pattern.c_str(), REG_EXTENDED | REG_NOSUB) != 0)
      throw std::invalid_argument("invalid regular expression: " + pattern);
    matches_empty_ = line_matches("");
  }
  ~RegexFramer() override { regfree(&regex_); }
  RegexFramer(const RegexFramer&) = delete;
  RegexFramer& operator=(const RegexFramer&) = delete;

  size_t find_end(std::string_view data, size_t* resume) const override {
    // *resume is always a line start: lines before it did not match.
    size_t line_start = std::min(*resume, data.size());
    while (true) {
      const void* nl = std::memchr(data.data() + line_start, '\n', data.size() - line_start);
      if (!nl) {
        *resume = line_start;
        return npos;
      }
      size_t line_end = static_cast<const char*>(nl) - data.data();
      if (line_matches(data.substr(line_start, line_end - line_start))) return line_end + 1;
      line_start = line_end + 1;
    }
  }

  // Completes the last line, then adds an empty line if that is what ends a
  // record (-t '^$'); a sentinel like '^EOS$' cannot be made up, so the
  // record then goes to the tool as it is.
  std::string terminate(std::string_view partial) const override {
    size_t newlines = (!partial.empty() && partial.back() != '\n' ? 1 : 0) + (matches_empty_ ? 1 : 0);
    return std::string(newlines, '\n');
  }

 private:
  bool line_matches(std::string_view line) const {
    regmatch_t range[1];
    range[0].rm_so = 0;
    range[0].rm_eo = static_cast<regoff_t>(line.size());
    // REG_STARTEND: the line is not NUL-terminated and may hold NUL bytes.
    return regexec(&regex_, line.data(), 1, range, REG_STARTEND) == 0;
  }

  regex_t regex_;
  bool matches_empty_ = false;
};

}  // namespace

size_t RecordFramer::count(std::string_view data, size_t max_records, size_t* end) const {
  size_t records = 0;
  size_t pos = 0;
  while (records < max_records) {
    size_t resume = 0;
    size_t e = find_end(data.substr(pos), &resume);
    if (e == npos) break;
    pos += e;
    ++records;
  }
  *end = pos;
  return records;
}

std::string check_record_format(const RecordFormat& format) {
  if (format.kind != RecordFormat::kRegex || format.regex.empty()) return "";
  std::string too_large = check_regex_size(format.regex);
  if (!too_large.empty()) return "regular expression '" + format.regex + "' is refused: " + too_large;
  regex_t probe;
  int rc = regcomp(&probe, format.regex.c_str(), REG_EXTENDED | REG_NOSUB);
  if (rc == 0) {
    regfree(&probe);
    return "";
  }
  char reason[256];
  regerror(rc, &probe, reason, sizeof reason);
  return "invalid regular expression '" + format.regex + "': " + reason;
}

std::unique_ptr<RecordFramer> make_framer(const RecordFormat& format) {
  switch (format.kind) {
    case RecordFormat::kNull: return std::make_unique<ByteFramer>('\0');
    case RecordFormat::kRegex:
      // '' matches every line: that is the plain line format, and its fast path.
      if (format.regex.empty()) break;
      return std::make_unique<RegexFramer>(format.regex);
    case RecordFormat::kLine: break;
  }
  return std::make_unique<ByteFramer>('\n');
}

const RecordFramer& line_framer() {
  static const std::unique_ptr<RecordFramer> framer = make_framer(RecordFormat{});
  return *framer;
}

}  // namespace viasock
