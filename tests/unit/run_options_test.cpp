#include <algorithm>

#include <catch2/catch.hpp>

#include <cmath>
#include <limits>

#include "common/run_options.h"

using namespace viasock;

namespace {

RunOptions with_tool() {
  RunOptions options;
  options.tool = "cat";
  return options;
}

}  // namespace

TEST_CASE("defaults are valid") { CHECK(validate(with_tool()).empty()); }

TEST_CASE("usage errors are caught before anything starts") {
  auto options = with_tool();
  SECTION("no tool") { options.tool.clear(); }
  SECTION("negative idle timeout") { options.idle_timeout = -1; }
  SECTION("negative record timeout") { options.record_timeout = -0.5; }
  SECTION("nan record timeout") { options.record_timeout = std::nan(""); }
  SECTION("nan idle timeout") { options.idle_timeout = std::nan(""); }
  SECTION("tiny record limit") { options.max_record = 100; }
  SECTION("tiny answer limit") { options.max_answer = 100; }
  SECTION("no instances") { options.instances = 0; }
  SECTION("negative prelude") { options.prelude_records = -1; }
  SECTION("both prelude kinds") {
    options.prelude_records = 1;
    options.prelude_lines = 1;
  }
  SECTION("invalid regex") { options.input_format = {RecordFormat::kRegex, "[a"}; }
  SECTION("NUL records with a regex") {
    options.input_format = {RecordFormat::kNull, ""};
    options.output_format = {RecordFormat::kRegex, "^$"};
  }
  CHECK_FALSE(validate(options).empty());
}

TEST_CASE("timeouts beyond any lifetime mean none") {
  auto options = with_tool();
  options.record_timeout = std::numeric_limits<double>::infinity();
  options.idle_timeout = 1e10;
  normalize_timeouts(options);
  CHECK(options.record_timeout == 0);
  CHECK(options.idle_timeout == 0);
  options.idle_timeout = 3600;
  normalize_timeouts(options);
  CHECK(options.idle_timeout == 3600);
  CHECK(validate(options).empty());
}

TEST_CASE("behaviour options name everything that changes the daemon") {
  auto options = with_tool();
  auto plain = behaviour_args(options);
  options.instances = 2;
  CHECK(behaviour_args(options) != plain);
  options = with_tool();
  options.output_format = {RecordFormat::kRegex, "^$"};
  CHECK(behaviour_args(options) != plain);
  options = with_tool();
  options.line_buffered = true;
  CHECK(behaviour_args(options) != plain);
  options = with_tool();
  options.verbose = true;  // how loud the client is does not change the daemon
  options.state_dir = "/elsewhere";
  CHECK(behaviour_args(options) == plain);
}

TEST_CASE("option -j takes N or MIN:MAX") {
  auto options = with_tool();
  CHECK(parse_instances("3", &options).empty());
  CHECK(options.instances == 3);
  CHECK(options.min_instances == 0);
  CHECK(instances_text(options) == "3");
  CHECK(parse_instances("1:4", &options).empty());
  CHECK(options.instances == 4);
  CHECK(options.min_instances == 1);
  CHECK(instances_text(options) == "1:4");
  CHECK(validate(options).empty());
  CHECK(parse_instances("2:2", &options).empty());  // a fixed pool
  CHECK(options.min_instances == 0);
  CHECK(options.instances == 2);
  for (const char* bad : {"", "x", "4:1", "1:", ":4", "-1", "1:2:3", "1.5"}) {
    INFO(bad);
    CHECK_FALSE(parse_instances(bad, &options).empty());
  }
  CHECK_FALSE(parse_instances("0:2", &options).empty());  // never below one instance
  options = with_tool();
  CHECK(parse_instances("0", &options).empty());
  CHECK_FALSE(validate(options).empty());
}

TEST_CASE("options -j MIN:MAX and --max-records reach the daemon") {
  auto options = with_tool();
  auto plain = behaviour_args(options);
  REQUIRE(parse_instances("1:4", &options).empty());
  auto growing = behaviour_args(options);
  CHECK(growing != plain);
  CHECK(std::find(growing.begin(), growing.end(), "1:4") != growing.end());
  options = with_tool();
  options.max_records = 100;
  CHECK(behaviour_args(options) != plain);
}
