// The client–daemon wire protocol.
//
// Both directions carry frames: a 5-byte header (type byte, payload length as
// 32-bit little endian) and the payload. The client sends HELLO, then DATA
// frames holding its raw standard input, then END_INPUT. The daemon answers
// HELLO (the daemon has accepted this client), then DATA frames with the
// answers and STDERR frames with what the tool wrote to its stderr for this
// client, then one EXIT frame with the status and message for the client.
// A client whose stdin or stdout is a file may hand it to the daemon first
// (ATTACH, attached_files.h); the daemon then reads or writes it itself.
// A client's HELLO "run" may carry its per-call options (call_options.h).
//
// Framing the client's input (rather than using a half-closed socket) lets the
// daemon tell a client that finished from one that was killed: only after
// END_INPUT may an unterminated last record be sent to the tool.
#pragma once

#include <algorithm>
#include <cstdint>
#include <string>
#include <string_view>

namespace viasock::wire {

// Part of the server identity: a daemon only ever talks its own version.
inline constexpr int kProtocolVersion = 3;
inline constexpr size_t kHeaderSize = 5;
// Control frames (everything but DATA) are small; a larger one is an error.
inline constexpr size_t kMaxControlPayload = 1 << 20;

enum FrameType : char {
  kHello = 'H',     // both ways; client payload: request kind
  kData = 'D',      // both ways: stream bytes
  kEndInput = 'E',  // client: no more input
  kExit = 'X',      // daemon: 4-byte LE status, then a message (may be empty)
  kStderr = 'S',    // daemon: the tool's stderr bytes for this client (at most kMaxControlPayload)
  kAttach = 'A',    // both ways: the streams whose descriptors come along / were taken (attached_files.h)
};

// Request kinds a client names in its HELLO.
inline constexpr std::string_view kRequestRun = "run";          // stream records
inline constexpr std::string_view kRequestStatus = "status";    // one DATA frame of JSON
inline constexpr std::string_view kRequestStop = "stop";        // drain and exit; answers like status
inline constexpr std::string_view kRequestRestart = "restart";  // replace the tool instances; answers like status

// 32-bit little endian, the byte order of every length and status.
void put_u32(char* out, uint32_t value);
uint32_t get_u32(const char* in);

void encode_header(char out[kHeaderSize], FrameType type, uint32_t length);
std::string encode_frame(FrameType type, std::string_view payload);
std::string encode_exit(int status, std::string_view message);
// Splits an EXIT payload; false when it is malformed.
bool decode_exit(std::string_view payload, int* status, std::string* message);

// Incremental frame decoder. DATA payloads are passed on piece by piece as
// they arrive (no copy, no size limit); other frames are collected and passed
// on whole.
class FrameDecoder {
 public:
  // Calls on_frame(type, bytes) for each DATA piece and each whole control
  // frame in `data`. Returns false on a protocol error (see error()).
  template <class OnFrame>
  bool feed(std::string_view data, OnFrame&& on_frame);

  // True between frames: a peer that stops here stopped cleanly.
  bool at_boundary() const { return !in_frame_ && header_fill_ == 0; }
  // Payload bytes of the current DATA frame still to come; 0 between
  // frames and in other frames.
  size_t data_remaining() const { return in_frame_ && type_ == kData ? remaining_ : 0; }
  // The caller took `n` (at most data_remaining()) payload bytes itself,
  // read straight to where they belong instead of through feed().
  void skip_data(size_t n);
  const std::string& error() const { return error_; }

 private:
  bool start_frame();

  char header_[kHeaderSize] = {};
  size_t header_fill_ = 0;
  char type_ = 0;
  size_t remaining_ = 0;  // payload bytes still to come in the current frame
  bool in_frame_ = false;
  std::string control_;
  std::string error_;
};

template <class OnFrame>
bool FrameDecoder::feed(std::string_view data, OnFrame&& on_frame) {
  while (!data.empty() || (in_frame_ && remaining_ == 0)) {
    if (!in_frame_) {
      size_t take = std::min(kHeaderSize - header_fill_, data.size());
      std::copy_n(data.data(), take, header_ + header_fill_);
      header_fill_ += take;
      data.remove_prefix(take);
      if (header_fill_ < kHeaderSize) return true;
      if (!start_frame()) return false;
      continue;
    }
    size_t take = std::min(remaining_, data.size());
    remaining_ -= take;
    if (type_ == kData) {
      if (take > 0) on_frame(kData, data.substr(0, take));
    } else {
      control_.append(data.data(), take);
    }
    data.remove_prefix(take);
    if (remaining_ == 0) {
      if (type_ != kData) on_frame(static_cast<FrameType>(type_), std::string_view(control_));
      control_.clear();
      in_frame_ = false;
    }
  }
  return true;
}

}  // namespace viasock::wire
