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
