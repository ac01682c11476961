// The state of a file as the server identity sees it, and which files a
// tool reads at start-up count as its inputs (see "Files the tool reads at
// start" in docs/DESIGN.md).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace viasock {

// Size, modification time, inode and change time. Size and mtime alone miss
// a file replaced by one of the same size whose mtime was set back (`cp -p`,
// `touch -d`): a rename gives it another inode, a rewrite in place a new
// ctime, which no unprivileged call can set back.
struct FileState {
  std::string path;
  bool exists = false;
  bool regular = false;
  int64_t size = 0, mtime_ns = 0, ctime_ns = 0;
  ino_t inode = 0;
  dev_t device = 0;

  // "size|mtime|inode|ctime", the form hashed into the server ID.
  std::string text() const;
  bool same_as(const FileState& other) const;
};

// Follows a final symbolic link, as opening the path would.
FileState read_file_state(const std::string& path);

// The first file whose state is no longer what was recorded, or nullptr.
const FileState* first_changed(const std::vector<FileState>& recorded);

// Whether an absolute path a tool opened at start-up is one of its inputs:
// not under /proc, /sys or /dev (kernel and device files change by
// themselves), nor under `own_dir` (the daemon's state directory: its logs
// and sockets change all the time).
bool tracks_path(std::string_view path, std::string_view own_dir);

// `path` made absolute against `base` and cleaned of "." and "//" (".."
// stays: past a symbolic link it does not mean the lexical parent).
std::string absolute_path(std::string_view base, std::string_view path);

}  // namespace viasock
