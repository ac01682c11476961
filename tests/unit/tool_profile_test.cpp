#include <fcntl.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdlib>
#include <string>

#include "common/unique_fd.h"
#include "server/tool_profile.h"

using namespace viasock;

namespace {

ToolProfile terminal_blank_lines() {
  ToolProfile profile;
  profile.stdout_kind = StdoutKind::kTerminal;
  profile.output_format = RecordFormat{RecordFormat::kRegex, "^$"};
  profile.stateful = true;
  return profile;
}

}  // namespace

TEST_CASE("a profile survives its encoding, whatever the framing") {
  ToolProfile lock_step;
  CHECK(decode_profile(encode_profile(lock_step)) == lock_step);
  ToolProfile lines;
  lines.output_format = RecordFormat{};
  CHECK(decode_profile(encode_profile(lines)) == lines);
  CHECK(decode_profile(encode_profile(terminal_blank_lines())) == terminal_blank_lines());
  ToolProfile odd_bytes;
  odd_bytes.output_format = RecordFormat{RecordFormat::kRegex, "^\xff\xfe END$"};
  CHECK(decode_profile(encode_profile(odd_bytes)) == odd_bytes);
  CHECK_FALSE(lines == lock_step);
}

TEST_CASE("anything but a profile is refused") {
  CHECK_FALSE(decode_profile(""));
  CHECK_FALSE(decode_profile("[]"));
  CHECK_FALSE(decode_profile(R"({"version":2,"stdout":"pipe","stateful":false,"answers":"lines"})"));
  CHECK_FALSE(decode_profile(R"({"version":1,"stdout":"file","stateful":false,"answers":"lines"})"));
  CHECK_FALSE(decode_profile(R"({"version":1,"stdout":"pipe","stateful":"no","answers":"lines"})"));
  CHECK_FALSE(decode_profile(R"({"version":1,"stdout":"pipe","stateful":false,"answers":"regex","regex_hex":"5"})"));
  // An invalid regular expression ("(") is not a framing.
  CHECK_FALSE(decode_profile(R"({"version":1,"stdout":"pipe","stateful":false,"answers":"regex","regex_hex":"28"})"));
  CHECK(decode_profile(R"({"version":1,"stdout":"pipe","stateful":false,"answers":"lines"})"));
}

TEST_CASE("a profile is written whole, read back and removed") {
  char pattern[] = "/tmp/viasock-profile-XXXXXX";
  REQUIRE(mkdtemp(pattern));
  std::string dir = pattern;
  UniqueFd dir_fd(open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  REQUIRE(dir_fd);
  const std::string id(64, 'a');
  CHECK_FALSE(read_profile(dir_fd.get(), id));
  std::string error;
  REQUIRE(write_profile(dir_fd.get(), id, terminal_blank_lines(), &error));
  CHECK(read_profile(dir_fd.get(), id) == terminal_blank_lines());
  CHECK(access((dir + "/" + id + ".learned.new").c_str(), F_OK) != 0);
  remove_profile(dir_fd.get(), id);
  CHECK_FALSE(read_profile(dir_fd.get(), id));
  rmdir(dir.c_str());
}
