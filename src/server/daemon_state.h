// Where the daemon is in its life (Daemon): the states and the transitions
// allowed between them, checked by enter_state (lifecycle.h).
#pragma once

namespace viasock {

//   kStarting ──listening──▶ kServing ──drain()──▶ kDraining ──no client left──▶ kStopping ──pool gone──▶ kStopped
//                               └───────────── stop(): an internal error ─────────────▲
enum class DaemonState {
  kStarting,  // preparing: the tool starts, the socket is not listening yet
  kServing,   // accepting clients
  kDraining,  // no new clients; the current ones finish (stop, idle, stale, a signal, a tool that cannot start)
  kStopping,  // no client left to wait for, or no time to: the tool instances exit
  kStopped,   // the instances are gone: the loop ends once the last session closed
};

// The names the log gives, in the enum's order.
constexpr const char* state_name(DaemonState state) {
  constexpr const char* kNames[] = {"starting", "serving", "draining", "stopping", "stopped"};
  return kNames[static_cast<int>(state)];
}

constexpr bool transition_allowed(DaemonState from, DaemonState to) {
  using D = DaemonState;
  switch (from) {
    case D::kStarting: return to == D::kServing;
    // An exception escaping a handler stops the daemon without draining.
    case D::kServing: return to == D::kDraining || to == D::kStopping;
    case D::kDraining: return to == D::kStopping;
    case D::kStopping: return to == D::kStopped;
    default: return false;
  }
}

}  // namespace viasock
