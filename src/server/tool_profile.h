// What a daemon learned about its tool, remembered next to the daemon's
// files under its ID (logs/<ID>.learned), so that a later daemon of the same
// ID (after an idle exit, stop, restart or reboot) starts the tool once and
// learns nothing. The ID covers the tool and every file it was given or read
// at start, so a changed tool or model has another ID and learns afresh.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "common/record_framer.h"
#include "server/child_process.h"

namespace viasock {

struct ToolProfile {
  StdoutKind stdout_kind = StdoutKind::kPipe;
  // How answers end; unset when they keep to no shape (one record at a
  // time, in lock-step).
  std::optional<RecordFormat> output_format;
  // Keeps state between records: every call gets an instance of its own.
  bool stateful = false;

  bool operator==(const ToolProfile& other) const;
};

// The profile as one line of JSON, and back; nullopt for anything else.
std::string encode_profile(const ToolProfile& profile);
std::optional<ToolProfile> decode_profile(std::string_view text);

// logs/<ID>.learned in a state directory's logs (`dir_fd`): read (nullopt
// when absent or unreadable), written whole or not at all (a temporary file
// renamed over it), and removed.
std::optional<ToolProfile> read_profile(int dir_fd, const std::string& id);
bool write_profile(int dir_fd, const std::string& id, const ToolProfile& profile, std::string* error);
void remove_profile(int dir_fd, const std::string& id);

}  // namespace viasock
