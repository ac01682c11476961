#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdio>
#include <fstream>
#include <string>

#include "common/file_state.h"

using viasock::absolute_path;
using viasock::first_changed;
using viasock::read_file_state;
using viasock::tracks_path;

namespace {

std::string temp_file(const std::string& text) {
  char name[] = "/tmp/viasock-file-state-XXXXXX";
  int fd = mkstemp(name);
  REQUIRE(fd >= 0);
  REQUIRE(write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()));
  close(fd);
  return name;
}

}  // namespace

TEST_CASE("tracked paths leave out kernel files and the daemon's own directory") {
  CHECK(tracks_path("/home/u/model.tsv", "/home/u/.viasock"));
  CHECK_FALSE(tracks_path("/proc/self/maps", "/s"));
  CHECK_FALSE(tracks_path("/sys/devices/system/cpu/online", "/s"));
  CHECK_FALSE(tracks_path("/dev/urandom", "/s"));
  CHECK_FALSE(tracks_path("/proc", "/s"));
  CHECK(tracks_path("/procedures/a", "/s"));
  CHECK(tracks_path("/device.conf", "/s"));
  CHECK_FALSE(tracks_path("/home/u/.viasock/logs/x.log", "/home/u/.viasock"));
  CHECK_FALSE(tracks_path("/home/u/.viasock/logs/x.log", "/home/u/.viasock/"));
  CHECK(tracks_path("/home/u/.viasock2/a", "/home/u/.viasock"));
  CHECK(tracks_path("/a", ""));
  CHECK_FALSE(tracks_path("relative/path", "/s"));
}

TEST_CASE("paths are made absolute against the tool's directory") {
  CHECK(absolute_path("/work", "lib/conf.py") == "/work/lib/conf.py");
  CHECK(absolute_path("/work", "./lib//conf.py") == "/work/lib/conf.py");
  CHECK(absolute_path("/work", "/etc/x") == "/etc/x");
  CHECK(absolute_path("/", "a") == "/a");
  CHECK(absolute_path("/work", "../x") == "/work/../x");
  CHECK(absolute_path("/work", ".") == "/work");
}

TEST_CASE("a file's state tells a rewrite of the same size with its mtime set back") {
  std::string path = temp_file("alpha\n");
  auto before = read_file_state(path);
  REQUIRE(before.exists);
  CHECK(before.regular);
  CHECK(before.size == 6);
  std::vector<viasock::FileState> recorded{before};
  CHECK(first_changed(recorded) == nullptr);
  usleep(20000);  // past the kernel's timestamp tick
  { std::ofstream(path) << "omega\n"; }
  struct timespec times[2] = {{0, UTIME_OMIT}, {before.mtime_ns / 1000000000, before.mtime_ns % 1000000000}};
  REQUIRE(utimensat(AT_FDCWD, path.c_str(), times, 0) == 0);
  auto after = read_file_state(path);
  CHECK(after.size == before.size);
  CHECK(after.mtime_ns == before.mtime_ns);
  CHECK_FALSE(after.same_as(before));
  REQUIRE(first_changed(recorded) != nullptr);
  CHECK(first_changed(recorded)->path == path);
  std::remove(path.c_str());
  CHECK_FALSE(read_file_state(path).exists);
  CHECK(first_changed(recorded) != nullptr);
}

TEST_CASE("a file replaced by rename has another inode") {
  std::string path = temp_file("one\n"), other = temp_file("two\n");
  auto before = read_file_state(path);
  REQUIRE(std::rename(other.c_str(), path.c_str()) == 0);
  auto after = read_file_state(path);
  CHECK(after.inode != before.inode);
  CHECK_FALSE(after.same_as(before));
  std::remove(path.c_str());
}

TEST_CASE("the state text is what the server ID hashes") {
  viasock::FileState state;
  state.size = 5;
  state.mtime_ns = 7;
  state.inode = 9;
  state.ctime_ns = 11;
  CHECK(state.text() == "5|7|9|11");
}
