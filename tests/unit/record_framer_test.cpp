#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "common/record_framer.h"
#include "common/regex_size.h"

using namespace viasock;

namespace {

// Cuts `data` into records, feeding it `step` bytes at a time the way a
// session does (resuming the scan of an incomplete record).
std::vector<std::string> cut(const RecordFramer& framer, const std::string& data, size_t step) {
  std::vector<std::string> records;
  std::string buffer;
  size_t resume = 0;
  for (size_t at = 0; at < data.size(); at += step) {
    buffer.append(data, at, step);
    while (true) {
      size_t end = framer.find_end(buffer, &resume);
      if (end == RecordFramer::npos) break;
      records.push_back(buffer.substr(0, end));
      buffer.erase(0, end);
      resume = 0;
    }
  }
  if (!buffer.empty()) records.push_back("partial:" + buffer);
  return records;
}

}  // namespace

TEST_CASE("line records, whatever the chunking") {
  auto framer = make_framer({});
  std::string data = "a\n\nbc\nd";
  for (size_t step : {1, 2, 3, 100}) {
    auto records = cut(*framer, data, step);
    REQUIRE(records == std::vector<std::string>{"a\n", "\n", "bc\n", "partial:d"});
  }
}

TEST_CASE("line records hold any byte but newline") {
  auto framer = make_framer({});
  std::string line;
  for (int c = 0; c < 256; ++c)
    if (c != '\n') line += static_cast<char>(c);
  line += '\n';
  CHECK(cut(*framer, line + line, 17) == std::vector<std::string>{line, line});
}

TEST_CASE("NUL records") {
  auto framer = make_framer({RecordFormat::kNull, ""});
  std::string data("x\ny\0z\0", 6);
  CHECK(cut(*framer, data, 1) == std::vector<std::string>{std::string("x\ny\0", 4), std::string("z\0", 2)});
  CHECK(framer->terminate("q") == std::string(1, '\0'));
}

TEST_CASE("blank-line records (-t '^$')") {
  auto framer = make_framer({RecordFormat::kRegex, "^$"});
  std::string data = "one\ntwo\n\nthree\n\n";
  for (size_t step : {1, 4, 100})
    CHECK(cut(*framer, data, step) == std::vector<std::string>{"one\ntwo\n\n", "three\n\n"});
  CHECK(framer->terminate("four") == "\n\n");
  CHECK(framer->terminate("four\n") == "\n");
}

TEST_CASE("sentinel records (-T '^EOS$') match the line without its newline") {
  auto framer = make_framer({RecordFormat::kRegex, "^EOS$"});
  CHECK(cut(*framer, "a\nEOSX\nEOS\nb\nEOS\n", 3) == std::vector<std::string>{"a\nEOSX\nEOS\n", "b\nEOS\n"});
  // A sentinel cannot be made up; only the newline is added.
  CHECK(framer->terminate("c") == "\n");
}

TEST_CASE("a regex sees lines holding NUL bytes") {
  auto framer = make_framer({RecordFormat::kRegex, "end$"});
  std::string data("a\0b end\n", 8);
  size_t resume = 0;
  CHECK(framer->find_end(data, &resume) == data.size());
}

TEST_CASE("the empty regex is the line format") {
  RecordFormat every_line{RecordFormat::kRegex, ""};
  CHECK(check_record_format(every_line).empty());
  CHECK(cut(*make_framer(every_line), "a\nb\n", 1) == std::vector<std::string>{"a\n", "b\n"});
}

TEST_CASE("count stops at the limit and reports the end") {
  auto framer = make_framer({});
  size_t end = 0;
  CHECK(framer->count("a\nb\nc\nd", 2, &end) == 2);
  CHECK(end == 4);
  CHECK(framer->count("a\nb\nc\nd", 10, &end) == 3);
  CHECK(end == 6);
}

TEST_CASE("count over many blocks agrees with one record at a time") {
  auto framer = make_framer({});
  std::string data;
  for (int i = 0; i < 20000; ++i) data += std::string(static_cast<size_t>(i % 13), 'x') + "\n";
  data += "partial";
  for (size_t limit : {size_t{0}, size_t{1}, size_t{2}, size_t{2730}, size_t{2731}, size_t{19999}, size_t{20000},
                       size_t{20001}, RecordFramer::npos}) {
    INFO(limit);
    size_t fast_end = 7, slow_end = 7;
    size_t fast = framer->count(data, limit, &fast_end);
    size_t slow = framer->RecordFramer::count(data, limit, &slow_end);
    CHECK(fast == slow);
    CHECK(fast_end == slow_end);
  }
  size_t end = 7;
  CHECK(framer->count("", 5, &end) == 0);
  CHECK(end == 0);
  CHECK(framer->count("no terminator", 5, &end) == 0);
  CHECK(end == 0);
}

TEST_CASE("an invalid regex is reported") {
  CHECK_FALSE(check_record_format({RecordFormat::kRegex, "("}).empty());
  CHECK(check_record_format({RecordFormat::kRegex, "^EOS$"}).empty());
}

TEST_CASE("a regex that glibc would expand beyond reason is refused before it is compiled") {
  // Each stacked '+' doubles the compiled pattern; a large interval copies
  // its item: both took gigabytes before they were measured.
  CHECK_FALSE(check_regex_size("N++++++++++++++++++++++").empty());
  CHECK(check_regex_size("a**").find("follow one another") != std::string::npos);
  CHECK(check_regex_size("x{2}?").find("follow one another") != std::string::npos);
  CHECK(check_regex_size("a{1,32767}").find("repeats too much") != std::string::npos);
  CHECK(check_regex_size("a{,32767}").find("repeats too much") != std::string::npos);
  CHECK(check_regex_size("(a{1,10}){1,101}").find("repeats too much") != std::string::npos);
  CHECK(check_regex_size("((((((((((((((a+)+)+)+)+)+)+)+)+)+)+)+)+)+)+").find("repeats too much") != std::string::npos);
  // What record separators look like stays accepted.
  for (const char* usual : {"^$", "^EOS$", "^# sent_id = ", "^(---|===)$", "^[[:space:]]*$", "^[]x]+$",
                            "a{3}b{2,}c{1,5}", "^\\+$", "(a|b)+c*", "*a", "a{,}", "[[:alpha:]]{1,999}"})
    CHECK(check_regex_size(usual).empty());
  // Brackets are one position whatever they hold, a '+' inside one is a member.
  CHECK(check_regex_size("[+*?]+").empty());
  CHECK(check_regex_size("a{1,1000}").empty());
  CHECK_FALSE(check_regex_size("ab{1,1000}").empty());
  // check_record_format says which pattern it refused; the framer refuses it too.
  std::string problem = check_record_format({RecordFormat::kRegex, "a{1,32767}"});
  CHECK(problem.find("'a{1,32767}' is refused") != std::string::npos);
  CHECK_THROWS(make_framer({RecordFormat::kRegex, "a{1,32767}"}));
}
