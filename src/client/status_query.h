// Asking many daemons at once: `list`, `stop` and `restart` must answer in
// a second or two even when one daemon is stopped (SIGSTOP), swapped out or
// wedged, so every daemon is asked at the same time, without blocking, and
// those that have not answered by the deadline are reported as such.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace viasock {

// Sends HELLO `request` (wire::kRequestStatus, kRequestStop, ...) to every
// socket and collects each daemon's DATA reply (its status JSON). An entry is
// empty when that daemon could not be reached or did not answer in time.
std::vector<std::optional<std::string>> ask_daemons(const std::vector<std::string>& sockets, std::string_view request,
                                                    std::chrono::milliseconds timeout);

}  // namespace viasock
