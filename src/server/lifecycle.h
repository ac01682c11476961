// The lifecycles of the daemon's objects are enums (session_state.h,
// daemon_state.h), each changed in one place that checks the transition
// against its table. A transition the table does not allow is a bug in the
// daemon, never something a client or a tool can cause: it is logged with
// both states' names, and a debug build stops on it.
#pragma once

#include <cstdint>
#include <string_view>

namespace viasock {

// Reports that `who` (a log name) was asked to go from `from` to `to`.
void impossible_transition(std::string_view who, std::string_view from, std::string_view to);
// How many impossible transitions were reported so far: tests check that a
// run caused none (a release build goes on after one).
uint64_t impossible_transitions();

// Moves *state to `to`, reporting the move when the table does not allow it.
// The move is made either way: the code asking for it is the best guess at
// what the object should do next.
template <typename State>
void enter_state(State* state, State to, std::string_view who) {
  if (!transition_allowed(*state, to)) impossible_transition(who, state_name(*state), state_name(to));
  *state = to;
}

}  // namespace viasock
