#include "server/instance_life.h"

namespace viasock {

// Only forward, and any step may be skipped: a spare retired while it
// loads never took work, the daemon's stop closes the input of an instance
// in any state, and a tool may die in any of them.
bool transition_allowed(InstanceLife from, InstanceLife to) { return to > from; }

std::string_view state_name(InstanceLife state) {
  switch (state) {
    case InstanceLife::kStarting: return "starting";
    case InstanceLife::kReady: return "ready";
    case InstanceLife::kRetiring: return "retiring";
    case InstanceLife::kClosing: return "closing";
    case InstanceLife::kFinished: return "finished";
  }
  return "?";
}

}  // namespace viasock
