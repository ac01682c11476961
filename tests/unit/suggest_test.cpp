#include <catch2/catch.hpp>

#include "cli/suggest.h"

using viasock::closest;
using viasock::edit_distance;

TEST_CASE("edit distance counts typos", "[suggest]") {
  CHECK(edit_distance("run", "run") == 0);
  CHECK(edit_distance("rnu", "run") == 1);  // swapped neighbours
  CHECK(edit_distance("rn", "run") == 1);
  CHECK(edit_distance("--idle-timout", "--idle-timeout") == 1);
  CHECK(edit_distance("", "stop") == 4);
  CHECK(edit_distance("kitten", "sitting") == 3);
}

TEST_CASE("closest suggests near words only", "[suggest]") {
  std::vector<std::string> commands = {"run", "start", "server", "client", "list", "stop", "restart", "prune", "logs"};
  CHECK(closest("rnu", commands) == "run");
  CHECK(closest("stpo", commands) == "stop");
  CHECK(closest("lsit", commands) == "list");
  CHECK(closest("restrat", commands) == "restart");
  CHECK(closest("frobnicate", commands).empty());
  CHECK(closest("x", commands).empty());
  std::vector<std::string> options = {"--idle-timeout", "--instances", "--input-terminator", "--help"};
  CHECK(closest("--idle-timout", options) == "--idle-timeout");
  CHECK(closest("--instance", options) == "--instances");
  CHECK(closest("--idle", options) == "--idle-timeout");  // a unique prefix
  CHECK(closest("--zzzzzzzz", options).empty());
}
