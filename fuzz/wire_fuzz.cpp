// Fuzzes the wire protocol's decoder, the first code that sees a client's
// bytes: decoding a stream in one piece and in random splits must give the
// same frames and the same verdict, control frames stay within their limit,
// and every EXIT frame survives decode_exit/encode_exit unchanged.
#include <string>
#include <utility>
#include <vector>

#include "common/wire.h"
#include "fuzz_util.h"

namespace wire = viasock::wire;

namespace {

struct Decoded {
  // Consecutive DATA pieces merged: where a DATA frame ends is not visible
  // to the decoder's user, and need not be.
  std::vector<std::pair<char, std::string>> frames;
  bool ok = true;
  bool at_boundary = true;
  std::string error;
};

void add(Decoded* out, wire::FrameType type, std::string_view bytes) {
  if (type == wire::kData) {
    fuzz::check(!bytes.empty(), "empty DATA piece passed on");
    if (!out->frames.empty() && out->frames.back().first == wire::kData) {
      out->frames.back().second.append(bytes);
      return;
    }
  } else {
    fuzz::check(bytes.size() <= wire::kMaxControlPayload, "control frame over its limit passed on");
  }
  out->frames.emplace_back(type, std::string(bytes));
}

Decoded decode(std::string_view stream, fuzz::Splitter* splitter) {
  Decoded out;
  wire::FrameDecoder decoder;
  size_t at = 0;
  while (at < stream.size() && out.ok) {
    size_t piece = splitter ? std::min(stream.size() - at, splitter->next()) : stream.size();
    fuzz::ExactCopy copy(stream.substr(at, piece));
    out.ok = decoder.feed(copy.view(), [&](wire::FrameType type, std::string_view bytes) { add(&out, type, bytes); });
    at += piece;
  }
  out.at_boundary = decoder.at_boundary();
  out.error = decoder.error();
  return out;
}

void check_exit_round_trip(std::string_view payload) {
  int status = 0;
  std::string message;
  if (!wire::decode_exit(fuzz::ExactCopy(payload).view(), &status, &message)) {
    fuzz::check(payload.size() < 4, "decode_exit refused a well-formed payload");
    return;
  }
  std::string frame = wire::encode_exit(status, message);
  Decoded again = decode(frame, nullptr);
  fuzz::check(again.ok && again.frames.size() == 1 && again.frames[0].first == wire::kExit,
              "an encoded EXIT frame does not decode");
  int status2 = 0;
  std::string message2;
  fuzz::check(wire::decode_exit(again.frames[0].second, &status2, &message2), "re-encoded EXIT is malformed");
  fuzz::check(status2 == status && message2 == message, "EXIT does not round-trip");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* bytes, size_t size) {
  if (size < 2) return 0;
  fuzz::Splitter splitter(bytes[0] | bytes[1] << 8);
  std::string_view stream(reinterpret_cast<const char*>(bytes) + 2, size - 2);

  Decoded whole = decode(stream, nullptr);
  Decoded split = decode(stream, &splitter);
  fuzz::check(whole.ok == split.ok, "the verdict depends on how the stream was split");
  fuzz::check(whole.frames == split.frames, "the frames depend on how the stream was split");
  fuzz::check(whole.at_boundary == split.at_boundary, "at_boundary depends on the split");
  fuzz::check(whole.error == split.error, "the error depends on the split");
  fuzz::check(whole.ok || !whole.error.empty(), "a refused stream without a reason");
  for (auto& [type, payload] : whole.frames)
    if (type == wire::kExit) check_exit_round_trip(payload);
  return 0;
}
