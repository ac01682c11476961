// The watch sees a change made before it is asked, whatever the change:
// contents rewritten in place with the mtime set back, a rename over the
// file, a file removed, a symbolic link's target rewritten. Events of other
// files in the same directory change nothing.
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

#include "server/tracked_files_watch.h"

using viasock::FileState;
using viasock::read_file_state;
using viasock::TrackedFilesWatch;

namespace {

struct TempDir {
  std::string path;
  TempDir() {
    char name[] = "/tmp/viasock-watch-XXXXXX";
    REQUIRE(mkdtemp(name) != nullptr);
    path = name;
  }
  ~TempDir() { std::filesystem::remove_all(path); }
  std::string write(const std::string& name, const std::string& text) const {
    std::string file = path + "/" + name;
    std::ofstream(file, std::ios::trunc) << text;
    return file;
  }
};

TrackedFilesWatch watch_of(const std::vector<std::string>& paths) {
  std::vector<FileState> files;
  for (const auto& path : paths) files.push_back(read_file_state(path));
  return TrackedFilesWatch(std::move(files));
}

}  // namespace

TEST_CASE("the watch of files read at start sees what changed before it is asked") {
  TempDir dir;
  std::string model = dir.write("model.tsv", "alpha\n");
  std::string conf = dir.write("tool.conf", "upper\n");

  SECTION("nothing changed, other files written beside them") {
    TrackedFilesWatch watch = watch_of({model, conf});
    REQUIRE(watch.available());
    dir.write("output.tmp", "a\n");
    std::rename((dir.path + "/output.tmp").c_str(), (dir.path + "/output.txt").c_str());
    CHECK(watch.changed() == nullptr);
    CHECK(watch.changed() == nullptr);
  }
  SECTION("rewritten in place, same size, mtime set back") {
    TrackedFilesWatch watch = watch_of({model, conf});
    struct stat before;
    REQUIRE(stat(model.c_str(), &before) == 0);
    dir.write("model.tsv", "omega\n");
    timespec times[2] = {before.st_atim, before.st_mtim};
    REQUIRE(utimensat(AT_FDCWD, model.c_str(), times, 0) == 0);
    const FileState* changed = watch.changed();
    REQUIRE(changed != nullptr);
    CHECK(changed->path == model);
    CHECK(watch.changed() == changed);
  }
  SECTION("replaced by a rename") {
    TrackedFilesWatch watch = watch_of({model, conf});
    std::string fresh = dir.write(".conf.new", "lower\n");
    REQUIRE(std::rename(fresh.c_str(), conf.c_str()) == 0);
    REQUIRE(watch.changed() != nullptr);
    CHECK(watch.changed()->path == conf);
  }
  SECTION("removed") {
    TrackedFilesWatch watch = watch_of({model});
    REQUIRE(unlink(model.c_str()) == 0);
    REQUIRE(watch.changed() != nullptr);
  }
  SECTION("the target of a symbolic link rewritten in another directory") {
    std::filesystem::create_directory(dir.path + "/models");
    std::string target = dir.write("models/v2.bin", "weights\n");
    std::string link = dir.path + "/current.bin";
    REQUIRE(symlink(target.c_str(), link.c_str()) == 0);
    TrackedFilesWatch watch = watch_of({link});
    dir.write("models/v2.bin", "WEIGHTS\n");
    REQUIRE(watch.changed() != nullptr);
    CHECK(watch.changed()->path == link);
  }
  SECTION("changed before the watch was made") {
    std::vector<FileState> files{read_file_state(model)};
    dir.write("model.tsv", "beta\n");
    TrackedFilesWatch watch(std::move(files));
    CHECK(watch.changed() != nullptr);
  }
}
