// Bounds on what a session holds, shared by its input (session_input.cpp)
// and its output (session_output.cpp): back-pressure weighs the answers
// waiting to go out before reading more, and both sides give back buffers
// that one huge record made grow.
#pragma once

#include <cstddef>

namespace viasock::session_limits {

// Back-pressure: stop reading a client that is this far ahead of the tool,
// or whose answers it does not read fast enough. A single record larger than
// this is still read whole: a partial record never goes to the tool.
inline constexpr size_t kMaxPendingInput = 1 << 20;
inline constexpr size_t kMaxPendingOutput = 4 << 20;

// A batch at least this large that is most of the input buffer is moved out
// of it rather than copied (one huge record); a stream's batches are copied,
// so that the buffer is reused. A buffer larger than kKeepBuffer is freed
// rather than kept once empty (one 200 MB record must not stay resident).
inline constexpr size_t kMoveBatch = 1 << 20;
inline constexpr size_t kKeepBuffer = 4 << 20;

}  // namespace viasock::session_limits
