#include "common/unix_socket.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <cerrno>
#include <cstring>

namespace viasock {

bool SocketAddress::open(const std::string& path, std::string* error) {
  path_ = path;
  size_t slash = path.rfind('/');
  std::string dir = slash == std::string::npos ? "." : (slash == 0 ? "/" : path.substr(0, slash));
  name_ = slash == std::string::npos ? path : path.substr(slash + 1);
  dir_.reset(::open(dir.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!dir_) {
    *error = "cannot open socket directory '" + dir + "': " + std::strerror(errno);
    return false;
  }
  address_ =
      path.size() < sizeof(sockaddr_un::sun_path) ? path : "/proc/self/fd/" + std::to_string(dir_.get()) + "/" + name_;
  if (address_.size() >= sizeof(sockaddr_un::sun_path)) {
    *error = "socket name '" + name_ + "' is too long for a Unix socket";
    return false;
  }
  return true;
}

UniqueFd connect_unix(const std::string& address) {
  UniqueFd fd(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd) return fd;
  sockaddr_un sa{};
  sa.sun_family = AF_UNIX;
  std::memcpy(sa.sun_path, address.data(), address.size());
  while (connect(fd.get(), reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) {
    if (errno == EINTR) continue;
    int saved = errno;
    fd.reset();
    errno = saved;
    return fd;
  }
  return fd;
}

pid_t peer_pid(int fd) {
  ucred peer{};
  socklen_t length = sizeof peer;
  return getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &peer, &length) == 0 ? peer.pid : 0;
}

}  // namespace viasock
