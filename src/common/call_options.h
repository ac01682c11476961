// What one `viasock run` call tells its daemon besides its records: the
// operational options that never fork a daemon. They travel in the HELLO
// request ("run idle=60 timeout=2.5 instances=4 quiet=1 retry=1 record=67108864
// answer=268435456"),
// so a later call may raise a running daemon's idle timeout or instance
// limit and give its own records a timeout and its records and answers a
// size limit.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/run_options.h"

namespace viasock {

struct CallOptions {
  double record_timeout = 0;  // -w for this call's records; 0 = none
  double idle_timeout = -1;   // -W wanted by this call; 0 = never; -1 = not said
  int instances = 0;          // -j wanted by this call; 0 = not said
  bool quiet_tool = false;    // --quiet-tool: no STDERR frames for this call
  int retries = 0;            // --retry: resend this call's records in flight on a tool that died
  bool attach = false;        // an ATTACH frame follows the greeting: hold answers until it came
  uint64_t max_record = 0;    // --max-record for this call's records; 0 = not said
  uint64_t max_answer = 0;    // --max-answer for this call's answers; 0 = not said

  static CallOptions from(const RunOptions& options);
};

// The HELLO payload of a run request.
std::string encode_run_request(const CallOptions& options);

// Parses a HELLO payload. False when it is not a run request; unknown or
// malformed fields are ignored (a newer client may send more).
bool decode_run_request(std::string_view request, CallOptions* options);

}  // namespace viasock
