// Fuzzes one record framer (chosen at build time by FRAMER_KIND_*): fed in
// random splits the way a session feeds it, find_end with its resume offset
// must find exactly the record ends a plain reference finds, count() must
// agree with it, and terminate() must complete the formats that can be
// completed.
#include <dlfcn.h>
#include <regex.h>

#include <string>
#include <vector>

#include "common/record_framer.h"
#include "fuzz_util.h"

using viasock::RecordFormat;
using viasock::RecordFramer;

// AddressSanitizer's regexec interceptor checks strlen(string) bytes and
// ignores REG_STARTEND, so it reports a read past every line that is not
// NUL-terminated, which is how the framer (rightly) calls it. This strong
// definition replaces the interceptor's weak one and calls glibc directly;
// the framer's own reads are still checked.
extern "C" int regexec(const regex_t* regex, const char* string, size_t nmatch, regmatch_t* match, int flags) {
  using Regexec = int (*)(const regex_t*, const char*, size_t, regmatch_t*, int);
  static auto real = reinterpret_cast<Regexec>(dlvsym(RTLD_NEXT, "regexec", "GLIBC_2.3.4"));
  if (!real) fuzz::fail("cannot find glibc's regexec");
  return real(regex, string, nmatch, match, flags);
}

namespace {

constexpr size_t npos = RecordFramer::npos;

// What ends a record in the simplest terms: a byte, or a whole line whose
// text (without its newline) satisfies a predicate.
class Reference {
 public:
  explicit Reference(const RecordFormat& format) : format_(format) {
    if (format.kind == RecordFormat::kRegex) regcomp(&regex_, format.regex.c_str(), REG_EXTENDED | REG_NOSUB);
  }
  ~Reference() {
    if (format_.kind == RecordFormat::kRegex) regfree(&regex_);
  }

  // Offsets just past every record end in `data`.
  std::vector<size_t> ends(std::string_view data) const {
    std::vector<size_t> out;
    if (format_.kind != RecordFormat::kRegex) {
      char terminator = format_.kind == RecordFormat::kNull ? '\0' : '\n';
      for (size_t i = 0; i < data.size(); ++i)
        if (data[i] == terminator) out.push_back(i + 1);
      return out;
    }
    size_t line_start = 0;
    for (size_t i = 0; i < data.size(); ++i) {
      if (data[i] != '\n') continue;
      if (line_ends_record(std::string(data.substr(line_start, i - line_start)))) out.push_back(i + 1);
      line_start = i + 1;
    }
    return out;
  }

 private:
  bool line_ends_record(const std::string& line) const {
#if defined(FRAMER_KIND_blank)
    return line.empty();
#elif defined(FRAMER_KIND_eos)
    return line == "EOS";
#else
    regmatch_t range[1];
    range[0].rm_so = 0;
    range[0].rm_eo = static_cast<regoff_t>(line.size());
    return regexec(&regex_, line.c_str(), 1, range, REG_STARTEND) == 0;
#endif
  }

  RecordFormat format_;
  regex_t regex_;
};

// The format under test; for FRAMER_KIND_regex the pattern is the input's
// first line. False when the input does not make a usable format.
bool choose_format(std::string_view* input, RecordFormat* format) {
#if defined(FRAMER_KIND_line)
  format->kind = RecordFormat::kLine;
#elif defined(FRAMER_KIND_null)
  format->kind = RecordFormat::kNull;
#elif defined(FRAMER_KIND_blank)
  *format = {RecordFormat::kRegex, "^$"};
#elif defined(FRAMER_KIND_eos)
  *format = {RecordFormat::kRegex, "^EOS$"};
#else
  size_t nl = input->find('\n');
  if (nl == std::string_view::npos || nl == 0 || nl > 24) return false;
  *format = {RecordFormat::kRegex, std::string(input->substr(0, nl))};
  input->remove_prefix(nl + 1);
  // Back-references make glibc's matcher exponential: not what is tested here.
  if (format->regex.find('\\') != std::string::npos || format->regex.find('\0') != std::string::npos) return false;
  if (!viasock::check_record_format(*format).empty()) return false;
#endif
  return true;
}

// Feeds `data` in random pieces as a session does: the buffer holds the
// current record's bytes so far, and find_end resumes where it stopped.
void check_incremental(const RecordFramer& framer, std::string_view data, const std::vector<size_t>& expected,
                       fuzz::Splitter& splitter) {
  size_t start = 0, fed = 0, resume = 0, next = 0;
  while (fed < data.size()) {
    fed = std::min(data.size(), fed + splitter.next());
    while (true) {
      fuzz::ExactCopy buffer(data.substr(start, fed - start));
      size_t before = resume;
      size_t end = framer.find_end(buffer.view(), &resume);
      if (end == npos) {
        fuzz::check(resume <= buffer.view().size(), "resume beyond the data");
        fuzz::check(resume >= std::min(before, buffer.view().size()), "resume moved backwards");
        fuzz::check(next == expected.size() || expected[next] > fed, "find_end missed a record end");
        break;
      }
      fuzz::check(next < expected.size() && start + end == expected[next], "find_end found a wrong record end");
      ++next;
      start += end;
      resume = 0;
    }
  }
  fuzz::check(next == expected.size(), "find_end did not find every record end");
}

// count() from every record start, with a limit drawn from the splitter.
void check_count(const RecordFramer& framer, std::string_view data, const std::vector<size_t>& expected,
                 fuzz::Splitter& splitter) {
  for (size_t first = 0; first <= expected.size(); ++first) {
    size_t from = first == 0 ? 0 : expected[first - 1];
    fuzz::ExactCopy rest(data.substr(from));
    size_t available = expected.size() - first;
    for (size_t max : {npos, splitter.next() % 4, available}) {
      size_t end = 12345;
      size_t records = framer.count(rest.view(), max, &end);
      size_t want = std::min(max, available);
      fuzz::check(records == want, "count() gave a wrong number of records");
      fuzz::check(end == (want == 0 ? 0 : expected[first + want - 1] - from), "count() gave a wrong end");
    }
    if (first > 64) break;  // quadratic otherwise
  }
}

// An unterminated last record plus terminate() must end as a record does,
// for every format that can be completed (a sentinel like EOS cannot).
void check_terminate(const RecordFramer& framer, const Reference& reference, std::string_view data,
                     const std::vector<size_t>& expected) {
  size_t last = expected.empty() ? 0 : expected.back();
  std::string partial(data.substr(last));
  if (partial.empty()) return;
  std::string completed = partial + framer.terminate(partial);
#if defined(FRAMER_KIND_line) || defined(FRAMER_KIND_null) || defined(FRAMER_KIND_blank)
  std::vector<size_t> ends = reference.ends(completed);
  fuzz::check(!ends.empty() && ends.back() == completed.size(), "terminate() does not complete the record");
#else
  (void)reference;
  (void)completed;
#endif
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* bytes, size_t size) {
  std::string_view input(reinterpret_cast<const char*>(bytes), size);
  RecordFormat format;
  if (!choose_format(&input, &format) || input.size() < 2) return 0;
  fuzz::Splitter splitter(static_cast<uint8_t>(input[0]) | static_cast<uint8_t>(input[1]) << 8);
  input.remove_prefix(2);

  auto framer = viasock::make_framer(format);
  Reference reference(format);
  std::vector<size_t> expected = reference.ends(input);
  check_incremental(*framer, input, expected, splitter);
  check_count(*framer, input, expected, splitter);
  check_terminate(*framer, reference, input, expected);
  return 0;
}
