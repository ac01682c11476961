#include <catch2/catch.hpp>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/server_id.h"
#include "common/tool_path.h"
#include "scoped_env.h"

using namespace viasock;

namespace {

// A scratch directory removed at the end of the test.
struct TempDir {
  std::string path;
  TempDir() {
    char pattern[] = "/tmp/viasock-unit-XXXXXX";
    path = mkdtemp(pattern);
  }
  ~TempDir() { std::system(("rm -rf '" + path + "'").c_str()); }
};

void write_file(const std::string& path, const std::string& text) { std::ofstream(path) << text; }

void set_mtime(const std::string& path, long seconds) {
  struct timespec times[2] = {{seconds, 0}, {seconds, 0}};
  utimensat(AT_FDCWD, path.c_str(), times, 0);
}

IdentityContext context() { return {"/bin/cat", "/work", "host-a"}; }

RunOptions options_with(std::vector<std::string> args) {
  RunOptions options;
  options.tool = "cat";
  options.args = std::move(args);
  return options;
}

}  // namespace

TEST_CASE("the ID is a stable hex SHA-256") {
  std::string id = compute_server_id(options_with({"-u"}), context());
  CHECK(id.size() == 64);
  CHECK(id.find_first_not_of("0123456789abcdef") == std::string::npos);
  CHECK(id == compute_server_id(options_with({"-u"}), context()));
}

TEST_CASE("arguments, options, directory and host all count") {
  std::string base = compute_server_id(options_with({"-u"}), context());
  CHECK(base != compute_server_id(options_with({"-A"}), context()));
  CHECK(base != compute_server_id(options_with({"-u", ""}), context()));
  // Argument boundaries count: ["ab"] is not ["a", "b"].
  CHECK(compute_server_id(options_with({"ab"}), context()) != compute_server_id(options_with({"a", "b"}), context()));
  auto other_dir = context();
  other_dir.cwd = "/elsewhere";
  CHECK(base != compute_server_id(options_with({"-u"}), other_dir));
  auto other_host = context();
  other_host.host = "host-b";
  CHECK(base != compute_server_id(options_with({"-u"}), other_host));
  auto terminal = options_with({"-u"});
  terminal.pty = true;
  CHECK(base != compute_server_id(terminal, context()));
}

TEST_CASE("operational options share the daemon") {
  std::string base = compute_server_id(options_with({"-u"}), context());
  auto operational = options_with({"-u"});
  operational.record_timeout = 10;
  operational.idle_timeout = 30;
  operational.instances = 4;
  operational.quiet_tool = true;
  operational.log_file = "other.log";
  CHECK(base == compute_server_id(operational, context()));
}

TEST_CASE("the environment that changes output counts by default") {
  test::ScopedEnv scoped;
  // The base is computed without LC_ALL, whatever the caller had.
  scoped.unset("LC_ALL");
  std::string base = compute_server_id(options_with({}), context());
  scoped.set("LC_ALL", "C.UTF-8");
  std::string utf8 = compute_server_id(options_with({}), context());
  scoped.set("LC_ALL", "C");
  std::string c = compute_server_id(options_with({}), context());
  scoped.set("VIASOCK_UNRELATED", "x");
  CHECK(compute_server_id(options_with({}), context()) == c);
  scoped.unset("VIASOCK_UNRELATED");
  scoped.unset("LC_ALL");
  CHECK(utf8 != c);
  CHECK(compute_server_id(options_with({}), context()) == base);

  char lang[] = "LANG=C", path[] = "PATH=/bin", home[] = "HOME=/root", venv[] = "VIRTUAL_ENV=/v",
       python[] = "PYTHONPATH=/p", loader[] = "LD_PRELOAD=x.so", tz[] = "TZ=UTC";
  char* env[] = {path, home, lang, venv, python, loader, tz, nullptr};
  CHECK(identity_environment(env) == std::vector<std::string>{"LANG=C", "LD_PRELOAD=x.so", "PATH=/bin", "PYTHONPATH=/p",
                                                              "TZ=UTC", "VIRTUAL_ENV=/v"});
}

TEST_CASE("a changed argument file, --opt=FILE or watched file gives a new ID") {
  TempDir dir;
  std::string model = dir.path + "/model";
  write_file(model, "weights");
  set_mtime(model, 1000);
  auto plain = options_with({model});
  auto assigned = options_with({"--model=" + model});
  auto watched = options_with({});
  watched.watch = {dir.path};
  std::string before_plain = compute_server_id(plain, context());
  std::string before_assigned = compute_server_id(assigned, context());
  std::string before_watched = compute_server_id(watched, context());
  set_mtime(model, 2000);
  CHECK(compute_server_id(plain, context()) != before_plain);
  CHECK(compute_server_id(assigned, context()) != before_assigned);
  CHECK(compute_server_id(watched, context()) != before_watched);
}

namespace {

long long ctime_ns(const std::string& path) {
  struct stat st;
  if (stat(path.c_str(), &st) != 0) return -1;
  return static_cast<long long>(st.st_ctim.tv_sec) * 1000000000LL + st.st_ctim.tv_nsec;
}

}  // namespace

TEST_CASE("a file replaced by one of the same size and mtime gives a new ID") {
  TempDir dir;
  std::string model = dir.path + "/model";
  write_file(model, "weights A");
  set_mtime(model, 1000);
  auto plain = options_with({model});
  auto assigned = options_with({"--model=" + model});
  auto watched = options_with({});
  watched.watch = {model};
  std::string before_plain = compute_server_id(plain, context());
  std::string before_assigned = compute_server_id(assigned, context());
  std::string before_watched = compute_server_id(watched, context());

  SECTION("an unchanged file keeps the ID") {
    CHECK(compute_server_id(plain, context()) == before_plain);
    CHECK(compute_server_id(assigned, context()) == before_assigned);
    CHECK(compute_server_id(watched, context()) == before_watched);
  }

  SECTION("renamed over it (another inode)") {
    std::string other = dir.path + "/model.new";
    write_file(other, "weights B");
    set_mtime(other, 1000);
    REQUIRE(rename(other.c_str(), model.c_str()) == 0);
    CHECK(compute_server_id(plain, context()) != before_plain);
    CHECK(compute_server_id(assigned, context()) != before_assigned);
    CHECK(compute_server_id(watched, context()) != before_watched);
  }

  SECTION("rewritten in place, mtime set back (cp -p, touch -r)") {
    // The kernel stamps ctime from a clock that advances once per tick
    // (a few ms), so a rewrite within the same tick keeps the old value:
    // rewrite until the ctime moved, for at most two seconds.
    long long before = ctime_ns(model);
    for (int attempt = 0; attempt < 2000 && ctime_ns(model) == before; ++attempt) {
      usleep(1000);
      write_file(model, "weights B");
      set_mtime(model, 1000);
    }
    REQUIRE(ctime_ns(model) != before);
    CHECK(compute_server_id(plain, context()) != before_plain);
    CHECK(compute_server_id(assigned, context()) != before_assigned);
    CHECK(compute_server_id(watched, context()) != before_watched);
  }
}

TEST_CASE("a named environment variable's value counts") {
  auto options = options_with({});
  options.env = {"VIASOCK_UNIT_TEST_VAR"};
  test::ScopedEnv env;
  env.set("VIASOCK_UNIT_TEST_VAR", "one");
  std::string one = compute_server_id(options, context());
  env.set("VIASOCK_UNIT_TEST_VAR", "two");
  std::string two = compute_server_id(options, context());
  env.unset("VIASOCK_UNIT_TEST_VAR");
  CHECK(one != two);
  CHECK(compute_server_id(options, context()) != two);
}

TEST_CASE("tools resolve like execvp") {
  ResolvedTool sh = resolve_tool("sh");
  CHECK(sh.path.front() == '/');
  // A virtualenv's python3 is a link, and another tool than its target.
  TempDir links;
  std::string link = links.path + "/python3";
  REQUIRE(symlink(sh.path.c_str(), link.c_str()) == 0);
  CHECK(resolve_tool(link).path == link);
  CHECK(sh.exit_code == 0);
  CHECK(resolve_tool("no-such-tool-viasock").exit_code == 127);
  TempDir dir;
  std::string script = dir.path + "/not-executable";
  write_file(script, "#!/bin/sh\n");
  chmod(script.c_str(), 0644);
  CHECK(resolve_tool(script).exit_code == 126);
  CHECK(resolve_tool(dir.path).exit_code == 126);
}
