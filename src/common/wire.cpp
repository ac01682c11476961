#include "common/wire.h"

namespace viasock::wire {

void encode_header(char out[kHeaderSize], FrameType type, uint32_t length) {
  out[0] = type;
  for (int i = 0; i < 4; ++i) out[1 + i] = static_cast<char>((length >> (8 * i)) & 0xff);
}

std::string encode_frame(FrameType type, std::string_view payload) {
  std::string frame(kHeaderSize, '\0');
  encode_header(frame.data(), type, static_cast<uint32_t>(payload.size()));
  frame.append(payload);
  return frame;
}

std::string encode_exit(int status, std::string_view message) {
  std::string payload(4, '\0');
  auto u = static_cast<uint32_t>(status);
  for (int i = 0; i < 4; ++i) payload[i] = static_cast<char>((u >> (8 * i)) & 0xff);
  payload.append(message);
  return encode_frame(kExit, payload);
}

bool decode_exit(std::string_view payload, int* status, std::string* message) {
  if (payload.size() < 4) return false;
  uint32_t u = 0;
  for (int i = 0; i < 4; ++i) u |= static_cast<uint32_t>(static_cast<unsigned char>(payload[i])) << (8 * i);
  *status = static_cast<int>(u);
  message->assign(payload.substr(4));
  return true;
}

bool FrameDecoder::start_frame() {
  header_fill_ = 0;
  type_ = header_[0];
  uint32_t length = 0;
  for (int i = 0; i < 4; ++i)
    length |= static_cast<uint32_t>(static_cast<unsigned char>(header_[1 + i])) << (8 * i);
  switch (type_) {
    case kHello: case kData: case kEndInput: case kExit: break;
    default:
      error_ = "unknown frame type " + std::to_string(static_cast<unsigned char>(type_));
      return false;
  }
  if (type_ != kData && length > kMaxControlPayload) {
    error_ = "control frame of " + std::to_string(length) + " bytes is too large";
    return false;
  }
  remaining_ = length;
  in_frame_ = true;
  return true;
}

}  // namespace viasock::wire
