#include "common/descriptor_passing.h"

#include <sys/socket.h>

#include <cerrno>
#include <cstring>

namespace viasock {
namespace {

// Room for a few more than we accept: extra ones are received and closed
// rather than truncating the message.
constexpr size_t kControlRoom = CMSG_SPACE(sizeof(int) * (kMaxPassedDescriptors + 2));

}  // namespace

ssize_t send_with_descriptors(int socket, std::string_view bytes, const std::vector<int>& fds) {
  iovec part{const_cast<char*>(bytes.data()), bytes.size()};
  msghdr message{};
  message.msg_iov = &part;
  message.msg_iovlen = 1;
  alignas(cmsghdr) char control[kControlRoom] = {};
  if (!fds.empty() && fds.size() <= kMaxPassedDescriptors) {
    message.msg_control = control;
    message.msg_controllen = CMSG_SPACE(sizeof(int) * fds.size());
    cmsghdr* header = CMSG_FIRSTHDR(&message);
    header->cmsg_level = SOL_SOCKET;
    header->cmsg_type = SCM_RIGHTS;
    header->cmsg_len = CMSG_LEN(sizeof(int) * fds.size());
    std::memcpy(CMSG_DATA(header), fds.data(), sizeof(int) * fds.size());
  }
  ssize_t n;
  do n = ::sendmsg(socket, &message, MSG_NOSIGNAL);
  while (n < 0 && errno == EINTR);
  return n;
}

ssize_t receive_with_descriptors(int socket, iovec* parts, int count, std::vector<UniqueFd>* fds, bool* truncated) {
  msghdr message{};
  message.msg_iov = parts;
  message.msg_iovlen = static_cast<size_t>(count);
  alignas(cmsghdr) char control[kControlRoom];
  message.msg_control = control;
  message.msg_controllen = sizeof control;
  ssize_t n;
  do n = ::recvmsg(socket, &message, MSG_CMSG_CLOEXEC);
  while (n < 0 && errno == EINTR);
  if (n < 0) return n;
  if (message.msg_flags & MSG_CTRUNC) *truncated = true;
  for (cmsghdr* header = CMSG_FIRSTHDR(&message); header != nullptr; header = CMSG_NXTHDR(&message, header)) {
    if (header->cmsg_level != SOL_SOCKET || header->cmsg_type != SCM_RIGHTS) continue;
    size_t received = (header->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    for (size_t i = 0; i < received; ++i) {
      int fd;
      std::memcpy(&fd, CMSG_DATA(header) + i * sizeof(int), sizeof fd);
      UniqueFd owned(fd);
      if (fds->size() < kMaxPassedDescriptors) fds->push_back(std::move(owned));
    }
  }
  return n;
}

}  // namespace viasock
