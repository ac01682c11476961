// Where a client connection is in its life (Session), and where its
// attached-files handshake is: the states and the transitions allowed
// between them, checked by enter_state (lifecycle.h).
#pragma once

namespace viasock {

//   kGreeting ──HELLO run──▶ kStreaming ──END_INPUT──▶ kInputDone ──all passed on──▶ kExiting
//       │ └──HELLO status, stop, restart──▶ kReplying ──reply passed on──────────────▶ kExiting
//       └─ any state before kFailed ──fail()──▶ kFailed;  any state ──close()──▶ kClosed
enum class SessionState {
  kGreeting,   // our greeting is out; the client's HELLO is still to come
  kStreaming,  // a run call: records come in and go to the tool
  kInputDone,  // the client ended its input; the rest of the answers go out
  kReplying,   // `list`, `stop` or `restart` asked: the daemon's status goes out
  kExiting,    // everything was passed on: the success EXIT goes out (still open)
  kFailed,     // fail(): what was answered in order, then the error EXIT, goes out
  kClosed,     // the connection is closed: the EXIT went out or the client went away
};

// The names the log gives, in the enum's order.
constexpr const char* state_name(SessionState state) {
  constexpr const char* kNames[] = {"greeting", "streaming", "input done", "replying", "exiting", "failed", "closed"};
  return kNames[static_cast<int>(state)];
}

constexpr bool transition_allowed(SessionState from, SessionState to) {
  using S = SessionState;
  // The client may go away, or break the protocol, at any moment.
  if (to == S::kClosed) return from != S::kClosed;
  // Any open session may fail: the tool died, the daemon stops, a record
  // is too large. A success EXIT that has not gone out yet is replaced by
  // the failure, as the daemon stopping at that moment decides.
  if (to == S::kFailed) return from != S::kFailed && from != S::kClosed;
  switch (from) {
    case S::kGreeting: return to == S::kStreaming || to == S::kReplying;
    case S::kStreaming: return to == S::kInputDone;
    case S::kInputDone:
    case S::kReplying: return to == S::kExiting;
    default: return false;
  }
}

// The ATTACH handshake (attached_files.h), beside the lifecycle: it may
// complete while records stream or after the input ended.
enum class AttachState {
  kNone,      // no ATTACH announced, or no longer waited for (the call failed)
  kAwaited,   // the greeting announced one: answers wait for it
  kAnswered,  // answered; a second ATTACH is refused
};

constexpr const char* state_name(AttachState state) {
  constexpr const char* kNames[] = {"no attach", "attach awaited", "attach answered"};
  return kNames[static_cast<int>(state)];
}

constexpr bool transition_allowed(AttachState from, AttachState to) {
  using A = AttachState;
  switch (from) {
    // An ATTACH the greeting did not announce is answered too, taking nothing.
    case A::kNone: return to == A::kAwaited || to == A::kAnswered;
    case A::kAwaited: return to == A::kAnswered || to == A::kNone;
    default: return false;
  }
}

}  // namespace viasock
