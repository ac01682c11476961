// Attached files: a call whose standard input is a regular file, or whose
// standard output is a regular file or /dev/null, hands those descriptors to
// its daemon, which then reads the input and writes the answers itself
// instead of relaying every byte through the client. Both are files a
// read or write never waits on for another process, so the daemon's event
// loop can use them directly; pipes and terminals stay with the client.
//
// The exchange: after the greeting the client sends one ATTACH frame naming
// the streams ("in", "out", in the order of the descriptors passed with it)
// and waits; the daemon answers ATTACH naming those it took. What it did
// not take, the client relays as before.
#pragma once

#include <string>
#include <string_view>

namespace viasock {

struct AttachedStreams {
  bool input = false;
  bool output = false;
  bool any() const { return input || output; }
};

// A regular file on a local file system: the daemon can read it without
// waiting on anybody.
bool attachable_input(int fd);
// A regular file (on a local file system) or /dev/null, and not the file
// stderr writes to: the tool's stderr lines still go through the client, and
// an answer written by the daemon could overtake a warning written before it.
bool attachable_output(int fd, int stderr_fd);

std::string encode_attach(const AttachedStreams& streams);
AttachedStreams decode_attach(std::string_view payload);

}  // namespace viasock
