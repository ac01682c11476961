#include "server/descriptor_reserve.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>

namespace viasock {

void DescriptorReserve::start(size_t wanted) {
  size_ = wanted;
  held_.clear();
  while (held_.size() < wanted) {
    UniqueFd fd(::open("/dev/null", O_RDONLY | O_CLOEXEC));
    if (!fd) break;
    held_.push_back(std::move(fd));
  }
  size_ = held_.size();
}

bool DescriptorReserve::take() {
  while (held_.size() < size_) {
    UniqueFd fd(::open("/dev/null", O_RDONLY | O_CLOEXEC));
    if (!fd) {
      held_.clear();
      return false;
    }
    held_.push_back(std::move(fd));
  }
  return true;
}

int DescriptorReserve::pipe_error() {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) return errno;
  close(fds[0]);
  close(fds[1]);
  return 0;
}

}  // namespace viasock
