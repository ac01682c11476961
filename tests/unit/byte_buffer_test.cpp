#include <catch2/catch.hpp>

#include <cstring>
#include <string>

#include "common/byte_buffer.h"

using viasock::ByteBuffer;

namespace {

void put(ByteBuffer& buffer, const std::string& bytes) {
  std::memcpy(buffer.prepare(bytes.size()), bytes.data(), bytes.size());
  buffer.commit(bytes.size());
}

}  // namespace

TEST_CASE("a byte buffer is read into in place and consumed from the front") {
  ByteBuffer buffer;
  CHECK(buffer.empty());
  put(buffer, "hello ");
  buffer.append("world");
  CHECK(buffer.view() == "hello world");
  buffer.consume(6);
  CHECK(buffer.view() == "world");
  buffer.consume(5);
  CHECK(buffer.empty());
}

TEST_CASE("making room keeps the data, whether it moves or grows") {
  ByteBuffer buffer;
  std::string expected;
  for (int i = 0; i < 2000; ++i) {
    std::string piece = std::to_string(i) + ",";
    put(buffer, piece);
    expected += piece;
    if (i % 3 == 0) {
      buffer.consume(2);
      expected.erase(0, 2);
    }
    REQUIRE(buffer.view() == expected);
  }
}

TEST_CASE("take moves a large run that starts the buffer, and copies the rest") {
  ByteBuffer buffer;
  std::string big(100000, 'x');
  put(buffer, big + "tail");
  std::string taken = buffer.take(big.size(), 1000);
  CHECK(taken == big);
  CHECK(buffer.view() == "tail");  // the start of the next record stays
  std::string small = buffer.take(2, 1000);
  CHECK(small == "ta");
  CHECK(buffer.view() == "il");
}

TEST_CASE("reserving keeps the data and makes room without filling it") {
  ByteBuffer buffer;
  put(buffer, "headbody");
  buffer.consume(4);
  buffer.reserve(1 << 20);
  CHECK(buffer.view() == "body");
  CHECK(buffer.capacity() >= (1u << 20));
  char* room = buffer.prepare(10);
  std::memcpy(room, "0123456789", 10);
  buffer.commit(10);
  CHECK(buffer.view() == "body0123456789");
  buffer.reserve(16);  // already there: nothing moves
  CHECK(buffer.data() == room - 4);
}

TEST_CASE("an empty large buffer is freed, a small one kept") {
  ByteBuffer buffer;
  buffer.reserve(1 << 20);
  CHECK(buffer.capacity() >= (1u << 20));
  buffer.release_if_large(4 << 20);
  CHECK(buffer.capacity() >= (1u << 20));
  put(buffer, "x");
  buffer.release_if_large(0);
  CHECK(buffer.capacity() > 0);  // not empty: kept
  buffer.consume(1);
  buffer.release_if_large(0);
  CHECK(buffer.capacity() < 64);  // a new string's own small buffer at most
}
