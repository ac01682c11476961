// Unix-domain socket addresses of any length. sun_path holds 107 bytes, and
// state directories in deep working directories are longer; such a path is
// reached through its directory's descriptor as /proc/self/fd/N/NAME, which
// the kernel resolves like the real path.
#pragma once

#include <sys/types.h>

#include <string>

#include "common/unique_fd.h"

namespace viasock {

class SocketAddress {
 public:
  // Prepares `path` for bind/connect. False with a reason on failure.
  bool open(const std::string& path, std::string* error);

  // What to hand to bind(2) or connect(2).
  const std::string& address() const { return address_; }
  const std::string& path() const { return path_; }
  // The socket's directory and file name, for unlinkat/fstatat.
  int dir_fd() const { return dir_.get(); }
  const std::string& name() const { return name_; }

 private:
  std::string path_, name_, address_;
  UniqueFd dir_;
};

// A connected, close-on-exec stream socket; on failure an empty UniqueFd and
// errno set by connect(2).
UniqueFd connect_unix(const std::string& address);

// The pid of the process listening on a connected Unix socket; 0 if unknown.
pid_t peer_pid(int fd);

}  // namespace viasock
