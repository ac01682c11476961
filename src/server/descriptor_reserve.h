// Descriptors the daemon keeps for its own use while clients fill its table.
//
// A daemon whose table is full cannot start a tool instance (its pipes), and
// under the sanitizers cannot even run a type check (their runtime probes
// memory through a pipe, and reports a false error when it gets none). So
// the daemon accepts clients only while it can spare a few descriptors:
// while accepting, it holds a reserve; when the table is full, it gives the
// reserve back for its own needs and accepts again only once it can take
// the whole reserve again (see Daemon::on_accept).
#pragma once

#include <vector>

#include "common/unique_fd.h"

namespace viasock {

class DescriptorReserve {
 public:
  // The size is what could be taken at start-up, up to `wanted`: under a
  // very low limit the daemon still serves, with a smaller reserve.
  void start(size_t wanted);
  size_t size() const { return size_; }
  bool held() const { return held_.size() == size_; }
  // Takes the whole reserve, or nothing (false).
  bool take();
  void give_back() { held_.clear(); }
  // 0 while two more descriptors than those in use and held can be opened
  // (a pipe's worth: what the sanitizers' runtime needs at once), else the
  // errno of trying (EMFILE).
  static int pipe_error();

 private:
  size_t size_ = 0;
  std::vector<UniqueFd> held_;
};

}  // namespace viasock
