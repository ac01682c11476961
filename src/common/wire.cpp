#include "common/wire.h"

namespace viasock::wire {

void put_u32(char* out, uint32_t value) {
  for (int i = 0; i < 4; ++i) out[i] = static_cast<char>((value >> (8 * i)) & 0xff);
}

uint32_t get_u32(const char* in) {
  uint32_t value = 0;
  for (int i = 0; i < 4; ++i) value |= static_cast<uint32_t>(static_cast<unsigned char>(in[i])) << (8 * i);
  return value;
}

void encode_header(char out[kHeaderSize], FrameType type, uint32_t length) {
  out[0] = type;
  put_u32(out + 1, length);
}

std::string encode_frame(FrameType type, std::string_view payload) {
  std::string frame(kHeaderSize, '\0');
  encode_header(frame.data(), type, static_cast<uint32_t>(payload.size()));
  frame.append(payload);
  return frame;
}

std::string encode_exit(int status, std::string_view message) {
  std::string payload(4, '\0');
  put_u32(payload.data(), static_cast<uint32_t>(status));
  payload.append(message);
  return encode_frame(kExit, payload);
}

bool decode_exit(std::string_view payload, int* status, std::string* message) {
  if (payload.size() < 4) return false;
  *status = static_cast<int>(get_u32(payload.data()));
  message->assign(payload.substr(4));
  return true;
}

void FrameDecoder::skip_data(size_t n) {
  remaining_ -= std::min(n, data_remaining());
  if (remaining_ == 0) in_frame_ = false;
}

bool FrameDecoder::start_frame() {
  header_fill_ = 0;
  type_ = header_[0];
  uint32_t length = get_u32(header_ + 1);
  switch (type_) {
    case kHello:
    case kData:
    case kEndInput:
    case kExit:
    case kStderr:
    case kAttach: break;
    default: error_ = "unknown frame type " + std::to_string(static_cast<unsigned char>(type_)); return false;
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
