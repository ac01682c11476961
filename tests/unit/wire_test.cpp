#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "common/wire.h"

using namespace viasock;

namespace {

struct Frame {
  char type;
  std::string bytes;
};

// Feeds `stream` to a decoder in pieces of `step` bytes, merging DATA pieces.
std::vector<Frame> decode(const std::string& stream, size_t step, bool* ok) {
  wire::FrameDecoder decoder;
  std::vector<Frame> frames;
  *ok = true;
  for (size_t at = 0; at < stream.size() && *ok; at += step) {
    *ok = decoder.feed(std::string_view(stream).substr(at, step), [&](wire::FrameType type, std::string_view bytes) {
      if (type == wire::kData && !frames.empty() && frames.back().type == wire::kData)
        frames.back().bytes.append(bytes);
      else
        frames.push_back({type, std::string(bytes)});
    });
  }
  if (*ok) *ok = decoder.at_boundary();
  return frames;
}

}  // namespace

TEST_CASE("frames survive any split of the stream") {
  std::string payload;
  for (int i = 0; i < 1000; ++i) payload += static_cast<char>(i % 256);
  std::string stream = wire::encode_frame(wire::kHello, "run") + wire::encode_frame(wire::kData, payload) +
                       wire::encode_frame(wire::kEndInput, "") + wire::encode_exit(137, "tool died");
  for (size_t step : {1, 2, 5, 7, 64, 100000}) {
    bool ok = false;
    auto frames = decode(stream, step, &ok);
    REQUIRE(ok);
    REQUIRE(frames.size() == 4);
    CHECK(frames[0].type == wire::kHello);
    CHECK(frames[0].bytes == "run");
    CHECK(frames[1].bytes == payload);
    CHECK(frames[2].type == wire::kEndInput);
    CHECK(frames[2].bytes.empty());
    int status = 0;
    std::string message;
    REQUIRE(wire::decode_exit(frames[3].bytes, &status, &message));
    CHECK(status == 137);
    CHECK(message == "tool died");
  }
}

TEST_CASE("the header is little endian and five bytes") {
  char header[wire::kHeaderSize];
  wire::encode_header(header, wire::kData, 0x01020304);
  CHECK(header[0] == 'D');
  CHECK(header[1] == 4);
  CHECK(header[4] == 1);
}

TEST_CASE("a stream cut inside a frame is not at a boundary") {
  std::string frame = wire::encode_frame(wire::kData, "hello");
  wire::FrameDecoder decoder;
  REQUIRE(decoder.feed(std::string_view(frame).substr(0, 7), [](auto, auto) {}));
  CHECK_FALSE(decoder.at_boundary());
}

TEST_CASE("garbage and oversized control frames are rejected") {
  wire::FrameDecoder garbage;
  CHECK_FALSE(garbage.feed("Zxxxxxx", [](auto, auto) {}));
  CHECK_FALSE(garbage.error().empty());

  char header[wire::kHeaderSize];
  wire::encode_header(header, wire::kHello, wire::kMaxControlPayload + 1);
  wire::FrameDecoder oversized;
  CHECK_FALSE(oversized.feed(std::string_view(header, sizeof header), [](auto, auto) {}));
}

TEST_CASE("a short exit payload is malformed") {
  int status = 0;
  std::string message;
  CHECK_FALSE(wire::decode_exit("ab", &status, &message));
}

TEST_CASE("DATA payload read past the decoder is skipped, and framing goes on") {
  std::string stream = wire::encode_frame(wire::kData, "0123456789") + wire::encode_frame(wire::kEndInput, "");
  wire::FrameDecoder decoder;
  std::string data;
  std::vector<char> types;
  auto on_frame = [&](wire::FrameType type, std::string_view bytes) {
    types.push_back(type);
    if (type == wire::kData) data.append(bytes);
  };
  CHECK(decoder.data_remaining() == 0);
  REQUIRE(decoder.feed(std::string_view(stream).substr(0, 8), on_frame));  // header and "012"
  CHECK(data == "012");
  CHECK(decoder.data_remaining() == 7);
  decoder.skip_data(7);  // "3456789" went elsewhere
  CHECK(decoder.data_remaining() == 0);
  REQUIRE(decoder.feed(std::string_view(stream).substr(15), on_frame));
  CHECK(types == std::vector<char>{wire::kData, wire::kEndInput});
  CHECK(decoder.at_boundary());
}
