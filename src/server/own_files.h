// The files a daemon publishes itself through: its socket (sockets/<ID>) and
// its metadata (run/<ID>.json). A daemon removes them only while they are
// still its own: a new daemon for the same ID may have replaced either, and
// removing those would make a live daemon invisible to `run`, `list` and
// `stop`. Removal happens under the per-ID lock, never waiting for it, since
// a client holding that lock may be waiting for this very daemon.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <string>

#include "common/state_dir.h"
#include "common/unix_socket.h"

namespace viasock {

class OwnFiles {
 public:
  // `state` is null for a foreground server without a state directory.
  OwnFiles(const StateDir* state, std::string id, const SocketAddress& address)
      : state_(state), id_(std::move(id)), address_(address) {}

  // Remembers the socket just bound as ours.
  void claim_socket();
  // False once our socket file was removed or replaced (checked with one
  // fstatat, cheap enough to do every second).
  bool socket_is_ours() const;

  // Removes what is still ours. False when the per-ID lock is busy: try
  // again later. True once done (or when there is nothing to do).
  bool try_remove();
  // Tries for up to `patience`, sleeping in between: for the very end, when
  // there is no event loop left to block.
  void remove_waiting(std::chrono::milliseconds patience);
  // Without the lock: only for a daemon that has not reported "ready" yet,
  // whose spawning client holds the lock and waits for that report.
  void remove_unlocked();
  bool removed() const { return removed_; }

 private:
  bool metadata_is_ours() const;

  const StateDir* state_;
  std::string id_;
  const SocketAddress& address_;
  dev_t socket_dev_ = 0;
  ino_t socket_ino_ = 0;
  bool claimed_ = false, removed_ = false;
};

}  // namespace viasock
