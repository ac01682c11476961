#include "server/tracked_files_watch.h"

#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace viasock {
namespace {

// What changes a directory entry's contents, attributes or the file it names.
constexpr uint32_t kDirectoryEvents = IN_MODIFY | IN_ATTRIB | IN_CLOSE_WRITE | IN_CREATE | IN_DELETE | IN_MOVED_FROM |
                                      IN_MOVED_TO | IN_DELETE_SELF | IN_MOVE_SELF | IN_ONLYDIR;
// What changes a file seen through a symbolic link.
constexpr uint32_t kFileEvents = IN_MODIFY | IN_ATTRIB | IN_CLOSE_WRITE | IN_DELETE_SELF | IN_MOVE_SELF;

bool is_symlink(const std::string& path) {
  struct stat st;
  return lstat(path.c_str(), &st) == 0 && S_ISLNK(st.st_mode);
}

}  // namespace

TrackedFilesWatch::TrackedFilesWatch(std::vector<FileState> files) : files_(std::move(files)) {
  inotify_.reset(inotify_init1(IN_NONBLOCK | IN_CLOEXEC));
  if (!inotify_) {
    problem_ = std::string("inotify: ") + std::strerror(errno);
    return;
  }
  for (size_t i = 0; i < files_.size() && inotify_; ++i) {
    const std::string& path = files_[i].path;
    size_t slash = path.rfind('/');
    if (slash == std::string::npos) continue;  // recorded paths are absolute
    if (Watch* directory = add(slash == 0 ? "/" : path.substr(0, slash), kDirectoryEvents))
      directory->by_name[path.substr(slash + 1)].push_back(i);
    if (!is_symlink(path)) continue;
    if (Watch* target = add(path, kFileEvents)) target->itself.push_back(i);
  }
  // What changed before the watches were in place.
  for (size_t i = 0; i < files_.size() && !changed_; ++i) check(i);
}

TrackedFilesWatch::Watch* TrackedFilesWatch::add(const std::string& path, uint32_t mask) {
  if (!inotify_) return nullptr;
  int wd = inotify_add_watch(inotify_.get(), path.c_str(), mask);
  if (wd >= 0) return &watches_[wd];
  // Gone since the tool read it: a change that check() finds; only a
  // refusal of the system (its limit of watches) ends watching.
  if (errno == ENOENT || errno == ENOTDIR || errno == EACCES) return nullptr;
  problem_ = "inotify_add_watch " + path + ": " + std::strerror(errno);
  inotify_.reset();
  watches_.clear();
  return nullptr;
}

void TrackedFilesWatch::check(size_t index) {
  if (!changed_ && !read_file_state(files_[index].path).same_as(files_[index])) changed_ = &files_[index];
}

const FileState* TrackedFilesWatch::changed() {
  if (changed_ || !inotify_) return changed_;
  alignas(inotify_event) char buffer[64 * 1024];
  for (;;) {
    ssize_t n = read(inotify_.get(), buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    for (ssize_t pos = 0; pos < n;) {
      const auto* event = reinterpret_cast<const inotify_event*>(buffer + pos);
      pos += static_cast<ssize_t>(sizeof(inotify_event) + event->len);
      if (event->mask & IN_Q_OVERFLOW) {
        for (size_t i = 0; i < files_.size(); ++i) check(i);
        continue;
      }
      auto found = watches_.find(event->wd);
      if (found == watches_.end()) continue;
      const Watch& watch = found->second;
      if (event->len > 0) {
        auto named = watch.by_name.find(std::string_view(event->name));
        if (named != watch.by_name.end())
          for (size_t i : named->second) check(i);
        continue;
      }
      // The watched file itself, or a directory moved, deleted or unwatched.
      for (size_t i : watch.itself) check(i);
      for (const auto& [name, indices] : watch.by_name)
        for (size_t i : indices) check(i);
    }
  }
  return changed_;
}

}  // namespace viasock
