#include <catch2/catch.hpp>
#include <cstdlib>
#include <string>

#include "scoped_env.h"

using viasock::test::ScopedEnv;

namespace {

std::string value_of(const char* name) {
  const char* value = getenv(name);
  return value ? value : "(unset)";
}

}  // namespace

TEST_CASE("ScopedEnv gives back the caller's values, set or unset") {
  ScopedEnv caller;  // the state this test starts from, undone at its end
  caller.set("VIASOCK_SCOPED_SET", "caller");
  caller.unset("VIASOCK_SCOPED_UNSET");
  {
    ScopedEnv env;
    env.set("VIASOCK_SCOPED_SET", "first");
    env.set("VIASOCK_SCOPED_SET", "second");  // the caller's value stays the saved one
    env.unset("VIASOCK_SCOPED_SET");
    env.set("VIASOCK_SCOPED_UNSET", "x");
    CHECK(value_of("VIASOCK_SCOPED_SET") == "(unset)");
    CHECK(value_of("VIASOCK_SCOPED_UNSET") == "x");
  }
  CHECK(value_of("VIASOCK_SCOPED_SET") == "caller");
  CHECK(value_of("VIASOCK_SCOPED_UNSET") == "(unset)");
}
