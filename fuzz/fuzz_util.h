// Helpers shared by the fuzz targets.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string_view>

namespace fuzz {

// A copy of `bytes` in a heap block of exactly its size, so that AddressSanitizer
// sees a read even one byte past the end (a std::string has spare capacity and a
// terminating NUL that would hide it).
class ExactCopy {
 public:
  explicit ExactCopy(std::string_view bytes) : size_(bytes.size()), data_(new char[bytes.size()]) {
    if (size_) std::memcpy(data_.get(), bytes.data(), size_);
  }
  std::string_view view() const { return {data_.get(), size_}; }

 private:
  size_t size_;
  std::unique_ptr<char[]> data_;
};

// Piece sizes for feeding a stream in splits, drawn from a seed in the input:
// small pieces most of the time (they exercise resuming), sometimes large.
class Splitter {
 public:
  explicit Splitter(uint32_t seed) : state_(seed * 2654435761u + 1) {}
  size_t next() {
    state_ = state_ * 1103515245u + 12345u;
    uint32_t r = state_ >> 16;
    return (r & 7) == 0 ? 1 + (r >> 3) % 512 : 1 + (r >> 3) % 8;
  }

 private:
  uint32_t state_;
};

// Fails the run with a message: libFuzzer then saves the input.
[[noreturn]] inline void fail(const char* what) {
  std::fprintf(stderr, "fuzz check failed: %s\n", what);
  std::abort();
}

inline void check(bool ok, const char* what) {
  if (!ok) fail(what);
}

}  // namespace fuzz
