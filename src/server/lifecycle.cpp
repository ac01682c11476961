#include "server/lifecycle.h"

#include <spdlog/spdlog.h>

#include <atomic>
#include <cassert>

namespace viasock {
namespace {

std::atomic<uint64_t> reported{0};

}  // namespace

void impossible_transition(std::string_view who, std::string_view from, std::string_view to) {
  ++reported;
  spdlog::error("bug: {} cannot go from {} to {}", who, from, to);
  // The log says which transition before a debug build stops.
  spdlog::default_logger()->flush();
  assert(!"impossible state transition");
}

uint64_t impossible_transitions() { return reported.load(); }

}  // namespace viasock
