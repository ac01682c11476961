// A session's input: reading the client's socket (by hand, so that DATA
// payload goes straight into the input buffer), decoding its frames,
// cutting the bytes into records, and handing them out in batches.
#include <spdlog/spdlog.h>
#include <sys/uio.h>

#include <cerrno>
#include <cstring>

#include "common/descriptor_passing.h"
#include "common/exit_codes.h"
#include "server/pool.h"
#include "server/session.h"
#include "server/session_limits.h"

namespace viasock {
namespace {

using session_limits::kKeepBuffer;
using session_limits::kMaxPendingInput;
using session_limits::kMaxPendingOutput;
using session_limits::kMoveBatch;

// Per client and resident while it is connected: 100 clients cost 6 MiB.
// A client whose reads fill the buffer streams: its buffer doubles up to
// kMaxReadChunk, for fewer wake-ups per megabyte.
constexpr size_t kReadChunk = 64 * 1024;
constexpr size_t kMaxReadChunk = 1 << 20;
// The client's socket holds this much of its answers while it is busy.
constexpr int kSocketBuffer = 2 << 20;
// Of each batch's first record, what a message may show (record_text).
constexpr size_t kRecordStart = 32;

}  // namespace

void Session::read_more() {
  read_input_file_later();
  // Reading goes on after END_INPUT: nothing more may come, but EOF then
  // tells that the client died while waiting for its answers.
  if (reading_ || !open() || input_full()) return;
  reading_ = true;
  // Never more than one record limit per read, so that every record counted
  // in one go below is within the limit.
  if (read_buffer_.empty()) {
    read_buffer_.resize(std::min<uint64_t>(kReadChunk, max_record_));
    boost::system::error_code ignored;
    socket_.non_blocking(true, ignored);
  }
  // Read when readable, by hand: a pending read into in_ would pin it.
  socket_.async_wait(asio::socket_base::wait_read,
                     [self = shared_from_this()](const boost::system::error_code& error) { self->on_readable(error); });
}

// Payload of a DATA frame goes straight into in_; headers, control frames
// and what follows a frame's end go through read_buffer_ and the decoder.
// A read ends at most a header past the frame it reads into in_, so that
// the next frame's payload is read straight too.
ssize_t Session::receive(size_t* direct) {
  size_t payload = state_ == SessionState::kStreaming ? decoder_.data_remaining() : 0;
  *direct = std::min(payload, read_buffer_.size());
  iovec parts[2];
  int count = 0;
  if (*direct > 0) parts[count++] = {in_.prepare(*direct), *direct};
  size_t rest = *direct == 0 ? read_buffer_.size() : *direct == payload ? wire::kHeaderSize : 0;
  if (rest > 0) parts[count++] = {read_buffer_.data(), rest};
  // recvmsg: descriptors passed with an ATTACH frame come with its bytes.
  ssize_t n = receive_with_descriptors(socket_.native_handle(), parts, count, &passed_fds_, &passed_truncated_);
  if (n > 0 && static_cast<size_t>(n) == *direct + rest) grow_read_buffer();
  return n;
}

void Session::on_readable(const boost::system::error_code& error) {
  reading_ = false;
  if (!open()) return;
  size_t direct = 0;
  ssize_t n = error ? -1 : receive(&direct);
  if (n < 0 && !error && errno == EAGAIN) return read_more();
  if (n <= 0) {
    // EOF before END_INPUT: the client died or was killed. Its unfinished
    // record is dropped; answers to records already in the tool are read and
    // discarded (the batches keep this session alive until then).
    if (n < 0) spdlog::debug("client read failed: {}", error ? error.message() : std::strerror(errno));
    return close();
  }
  size_t size = static_cast<size_t>(n), straight = std::min(size, direct);
  in_.commit(straight);
  decoder_.skip_data(straight);
  bool ok = decoder_.feed(std::string_view(read_buffer_.data(), size - straight),
                          [this](wire::FrameType type, std::string_view bytes) { on_frame(type, bytes); });
  if (!ok) {
    spdlog::warn("dropping a client that broke the protocol: {}", decoder_.error());
    return close();
  }
  scan_input();
  if (has_ready_input()) pool_.offer(shared_from_this());
  read_more();
}

bool Session::input_full() const {
  bool input_ahead = ready_records_ > 0 && in_.size() >= kMaxPendingInput;
  return input_ahead || out_.size() + queued_bytes_ >= kMaxPendingOutput;
}

void Session::grow_read_buffer() {
  size_t grown = std::min<uint64_t>(std::min(2 * read_buffer_.size(), kMaxReadChunk), max_record_);
  if (grown <= read_buffer_.size()) return;
  if (read_buffer_.size() == kReadChunk) {
    boost::system::error_code ignored;
    socket_.set_option(asio::socket_base::send_buffer_size(kSocketBuffer), ignored);
  }
  read_buffer_.resize(grown);
}

void Session::on_frame(wire::FrameType type, std::string_view bytes) {
  switch (type) {
    case wire::kHello: on_hello(bytes); break;
    case wire::kData:
      // With an input file attached, the file is the input until its end.
      if (state_ == SessionState::kStreaming && !input_file_) in_.append(bytes);
      break;
    case wire::kEndInput:
      if (!input_file_) end_input();
      break;
    case wire::kAttach: on_attach(bytes); break;
    default: break;
  }
}

// The first record goes through find_end, which resumes where the previous
// scan of an incomplete record stopped (a 20 MB record arriving in pieces is
// scanned once); the rest of the buffer is counted in one go.
void Session::scan_input() {
  while (true) {
    std::string_view rest = in_.view().substr(ready_end_);
    size_t end = framer_.find_end(rest, &scan_resume_);
    if (end == RecordFramer::npos) {
      record_fits(rest.size());
      return;
    }
    if (!record_fits(end)) return;
    scan_resume_ = 0;
    size_t more_end = 0;
    size_t records = 1 + framer_.count(rest.substr(end), RecordFramer::npos, &more_end);
    ready_end_ += end + more_end;
    ready_records_ += records;
    records_in_ += records;
  }
}

// A record over --max-record fails the call at once, before the daemon
// holds more of it: its bytes are dropped and reading stops.
bool Session::record_fits(size_t size) {
  if (size <= max_record_) return true;
  spdlog::warn("refusing a client's record of more than {} bytes (--max-record)", max_record_);
  fail(kExitRecordTooLarge, "an input record is larger than --max-record " + size_text(max_record_) +
                                "; check the record terminator or raise --max-record");
  in_.clear();
  in_.release_if_large(0);
  ready_end_ = scan_resume_ = 0;
  return false;
}

// The client has sent everything. An unterminated last record is completed
// as if its terminator had been there.
void Session::end_input() {
  if (state_ != SessionState::kStreaming) return;
  set_state(SessionState::kInputDone);
  scan_input();
  if (!open()) return;
  if (ready_end_ < in_.size()) {
    std::string terminator = framer_.terminate(in_.view().substr(ready_end_));
    completion_ = terminator.size();
    in_.append(terminator);
    scan_input();
    if (ready_end_ < in_.size()) {  // a sentinel-ended format cannot be completed: send it as it is
      ready_end_ = in_.size();
      ++ready_records_;
      ++records_in_;
    }
  }
  finish_if_done();
  // An instance serving this call directly closes the tool's input now.
  pool_.kick();
}

std::shared_ptr<Batch> Session::take_direct_batch(size_t max_bytes, std::string* bytes) {
  std::shared_ptr<Batch> batch = take_batch(max_bytes, SIZE_MAX, bytes);
  // Batches end with whole records, so the completed one ends this batch.
  if (batch && input_finished() && completion_ > 0 && bytes->size() >= completion_) {
    bytes->resize(bytes->size() - completion_);
    completion_ = 0;
  }
  return batch;
}

std::shared_ptr<Batch> Session::take_batch(size_t max_bytes, size_t max_records, std::string* bytes) {
  if (!has_ready_input()) return nullptr;
  std::string_view ready = in_.view().substr(0, ready_end_);
  size_t records = ready_records_, length = ready.size();
  if (length > max_bytes || records > max_records) {
    records = framer_.count(ready.substr(0, std::min(max_bytes, ready.size())), std::min(max_records, ready_records_),
                            &length);
    if (records == 0) records = framer_.count(ready, 1, &length);
  }
  if (bytes->empty()) {
    *bytes = in_.take(length, kMoveBatch);
  } else {
    bytes->append(ready.data(), length);
    in_.consume(length);
  }
  ready_end_ -= length;
  ready_records_ -= records;
  in_.release_if_large(kKeepBuffer);

  auto batch = std::make_shared<Batch>();
  batch->session = shared_from_this();
  batch->records = records;
  batch->input_bytes = length;
  batch->record_count = records;
  batch->timeout = call_.record_timeout;
  batch->first_record = records_taken_ + 1;
  records_taken_ += records;
  batch->first_bytes.assign(*bytes, bytes->size() - length, std::min(length, kRecordStart));
  if (call_.retries > 0) {
    // Kept only when asked for: most calls never pay for the copy.
    batch->input.assign(*bytes, bytes->size() - length, length);
    batch->retries_left = call_.retries;
  }
  batches_.push_back(batch);
  last_taken_ = batch;
  read_more();
  return batch;
}

void Session::drop_answered(Batch& batch) const {
  size_t answered = batch.record_count - batch.records, length = 0;
  if (answered > 0 && framer_.count(batch.input, answered, &length) == answered) batch.input.erase(0, length);
  batch.record_count = batch.records;
  batch.input_bytes = batch.input.size();
}

}  // namespace viasock
