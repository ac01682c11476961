#include "common/byte_buffer.h"

#include <algorithm>
#include <cstring>

namespace viasock {

char* ByteBuffer::prepare(size_t n) {
  if (storage_.size() - end_ >= n) return storage_.data() + end_;
  size_t used = size();
  if (used + n <= storage_.size() && begin_ >= used) {
    // Cheaper to move the (small) rest to the front than to grow.
    std::memmove(storage_.data(), data(), used);
  } else if (end_ + n <= storage_.capacity()) {
    // Zero-fills only the new part: every byte once in the storage's life.
    storage_.resize(end_ + n);
    return storage_.data() + end_;
  } else {
    // Capacity doubles, but only what is used is touched: memory reserved
    // for a huge record is resident only as far as it was filled.
    reserve(std::max(2 * storage_.capacity(), used + n));
    storage_.resize(used + n);
    return storage_.data() + end_;
  }
  begin_ = 0;
  end_ = used;
  return storage_.data() + end_;
}

void ByteBuffer::append(std::string_view bytes) {
  std::memcpy(prepare(bytes.size()), bytes.data(), bytes.size());
  commit(bytes.size());
}

void ByteBuffer::consume(size_t n) {
  begin_ += n;
  if (begin_ == end_) begin_ = end_ = 0;
}

// Only capacity: the pages of the reserved room become resident as reads
// fill them, not here.
void ByteBuffer::reserve(size_t n) {
  if (n <= storage_.capacity() - begin_) return;
  size_t used = size();
  std::string grown;
  grown.reserve(n);
  grown.append(data(), used);
  storage_.swap(grown);
  begin_ = 0;
  end_ = used;
}

std::string ByteBuffer::take(size_t n, size_t move_from) {
  if (begin_ == 0 && n >= move_from && size() - n <= n) {
    // The rest (the start of the next record) goes to fresh storage.
    std::string rest(data() + n, size() - n);
    std::string taken;
    taken.swap(storage_);
    taken.resize(n);
    storage_.swap(rest);
    begin_ = 0;
    end_ = storage_.size();
    return taken;
  }
  std::string taken(data(), n);
  consume(n);
  return taken;
}

void ByteBuffer::release_if_large(size_t keep) {
  if (empty() && storage_.capacity() > keep) {
    std::string().swap(storage_);
    clear();
  }
}

}  // namespace viasock
