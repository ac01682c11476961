// A byte buffer that is read into in place: data sits at [begin, end) of
// its storage, consuming from the front only moves `begin`, and room for
// the next read is made at the end by moving what is left to the front or
// by growing. On the daemon's hot path it replaces "read into a scratch
// buffer, then append" and "erase what was passed on", each a copy.
//
// Storage is a std::string whose size is the room made so far: each byte is
// zero-filled once when room first reaches it, never per read, and capacity
// reserved beyond it is not touched (not resident). A large run of data
// that starts the buffer can leave it without a copy (take()).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace viasock {

class ByteBuffer {
 public:
  const char* data() const { return storage_.data() + begin_; }
  size_t size() const { return end_ - begin_; }
  bool empty() const { return begin_ == end_; }
  std::string_view view() const { return {data(), size()}; }
  size_t capacity() const { return storage_.capacity(); }

  // Room for at least `n` more bytes after the data; write there, then
  // commit() what was written.
  char* prepare(size_t n);
  void commit(size_t n) { end_ += n; }
  void append(std::string_view bytes);
  // Drops the first `n` bytes.
  void consume(size_t n);
  // Storage for at least `n` bytes of data, so that they arrive without
  // the buffer growing step by step (each step a copy); none of it is
  // touched until data arrives.
  void reserve(size_t n);
  // The first `n` bytes, consumed: the storage itself when they start it,
  // are at least `move_from` bytes and most of the data, else a copy.
  std::string take(size_t n, size_t move_from);
  void clear() { begin_ = end_ = 0; }
  // Frees the storage when empty and larger than `keep`: one huge record
  // must not stay resident after it passed.
  void release_if_large(size_t keep);

 private:
  std::string storage_;
  size_t begin_ = 0, end_ = 0;
};

}  // namespace viasock
