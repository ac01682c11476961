#include "server/own_files.h"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <thread>

#include "common/daemon_info.h"

namespace viasock {

void OwnFiles::claim_socket() {
  struct stat st;
  if (fstatat(address_.dir_fd(), address_.name().c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) return;
  socket_dev_ = st.st_dev;
  socket_ino_ = st.st_ino;
  claimed_ = true;
}

bool OwnFiles::socket_is_ours() const {
  struct stat st;
  return claimed_ && fstatat(address_.dir_fd(), address_.name().c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 &&
         st.st_dev == socket_dev_ && st.st_ino == socket_ino_;
}

// run/<ID>.json names the daemon that wrote it last.
bool OwnFiles::metadata_is_ours() const {
  std::string name = id_ + ".json";
  UniqueFd fd(openat(state_->run_fd(), name.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
  if (!fd) return false;
  std::string text;
  char buffer[4096];
  ssize_t n;
  while ((n = read(fd.get(), buffer, sizeof buffer)) > 0 && text.size() < (1 << 20))
    text.append(buffer, static_cast<size_t>(n));
  DaemonInfo info;
  return parse_daemon_info(text, &info) && info.pid == getpid();
}

bool OwnFiles::try_remove() {
  if (removed_) return true;
  IdLock lock;
  if (state_) {
    bool busy = false;
    std::string error;
    if (!lock.try_acquire(*state_, id_, &busy, &error)) {
      if (busy) return false;
      spdlog::warn("{}", error);  // remove without the lock rather than leave the files
    }
  }
  remove_unlocked();
  return true;
}

void OwnFiles::remove_unlocked() {
  if (socket_is_ours()) unlinkat(address_.dir_fd(), address_.name().c_str(), 0);
  if (state_ && metadata_is_ours()) remove_metadata(*state_, id_);
  removed_ = true;
}

void OwnFiles::remove_waiting(std::chrono::milliseconds patience) {
  auto deadline = std::chrono::steady_clock::now() + patience;
  while (!try_remove()) {
    if (std::chrono::steady_clock::now() >= deadline) {
      spdlog::warn("the lock for {} stays busy; leaving its socket and metadata to the next client", id_);
      return;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

}  // namespace viasock
