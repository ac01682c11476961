// Passing open descriptors over the client's Unix socket (SCM_RIGHTS), so
// that a daemon can read a caller's input file and write its output file
// itself (see "Attached files" in docs/DESIGN.md).
#pragma once

#include <sys/types.h>
#include <sys/uio.h>

#include <string_view>
#include <vector>

#include "common/unique_fd.h"

namespace viasock {

// At most this many descriptors travel with one message.
inline constexpr size_t kMaxPassedDescriptors = 2;

// sendmsg(2) of `bytes` with `fds` attached to its first byte; returns what
// sendmsg returns (a partial send still delivered the descriptors).
ssize_t send_with_descriptors(int socket, std::string_view bytes, const std::vector<int>& fds);

// recvmsg(2) into `parts`; descriptors that came with the bytes are appended
// to *fds (close-on-exec), at most kMaxPassedDescriptors in all, the rest
// closed. *truncated is set when the kernel dropped some (the daemon ran out
// of descriptors), so that none of them is trusted.
ssize_t receive_with_descriptors(int socket, iovec* parts, int count, std::vector<UniqueFd>* fds, bool* truncated);

}  // namespace viasock
