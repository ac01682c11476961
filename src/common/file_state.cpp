#include "common/file_state.h"

#include <sys/stat.h>

namespace viasock {
namespace {

int64_t nanoseconds(const struct timespec& time) {
  return static_cast<int64_t>(time.tv_sec) * 1000000000LL + time.tv_nsec;
}

bool under(std::string_view path, std::string_view dir) {
  while (dir.size() > 1 && dir.back() == '/') dir.remove_suffix(1);
  return !dir.empty() && path.starts_with(dir) && (path.size() == dir.size() || path[dir.size()] == '/');
}

}  // namespace

std::string FileState::text() const {
  return std::to_string(size) + "|" + std::to_string(mtime_ns) + "|" + std::to_string(inode) + "|" +
         std::to_string(ctime_ns);
}

bool FileState::same_as(const FileState& other) const {
  return exists == other.exists && size == other.size && mtime_ns == other.mtime_ns && inode == other.inode &&
         device == other.device && ctime_ns == other.ctime_ns;
}

FileState read_file_state(const std::string& path) {
  FileState state;
  state.path = path;
  struct stat st;
  if (stat(path.c_str(), &st) != 0) return state;
  state.exists = true;
  state.regular = S_ISREG(st.st_mode);
  state.size = st.st_size;
  state.mtime_ns = nanoseconds(st.st_mtim);
  state.ctime_ns = nanoseconds(st.st_ctim);
  state.inode = st.st_ino;
  state.device = st.st_dev;
  return state;
}

const FileState* first_changed(const std::vector<FileState>& recorded) {
  for (const FileState& state : recorded)
    if (!read_file_state(state.path).same_as(state)) return &state;
  return nullptr;
}

bool tracks_path(std::string_view path, std::string_view own_dir) {
  if (!path.starts_with('/')) return false;
  for (std::string_view kernel : {"/proc", "/sys", "/dev"})
    if (under(path, kernel)) return false;
  return !under(path, own_dir);
}

std::string absolute_path(std::string_view base, std::string_view path) {
  std::string joined = path.starts_with('/') ? std::string(path) : std::string(base) + "/" + std::string(path);
  std::string clean;
  size_t pos = 0;
  while (pos < joined.size()) {
    size_t slash = joined.find('/', pos);
    if (slash == std::string::npos) slash = joined.size();
    std::string_view part(joined.data() + pos, slash - pos);
    if (!part.empty() && part != ".") (clean += '/') += part;
    pos = slash + 1;
  }
  return clean.empty() ? "/" : clean;
}

}  // namespace viasock
