// A session's output: the tool's answers, in input order, and its stderr
// lines, in the order the tool wrote them, go to the client in DATA and
// STDERR frames (or to its attached output file), then the EXIT frame.
#include <spdlog/spdlog.h>

#include <utility>

#include "server/pool.h"
#include "server/session.h"
#include "server/session_limits.h"

namespace viasock {
namespace {

using session_limits::kKeepBuffer;
using session_limits::kMaxPendingOutput;

// The tool's stderr waiting for a client that does not read it: past this,
// lines are dropped (and counted) rather than stalling the tool.
constexpr size_t kMaxPendingStderr = 1 << 20;
// Answers go out in DATA frames of at most this size, however large out_ grew.
constexpr size_t kMaxDataFrame = 1 << 20;
// How long, and up to how many bytes, answers wait for more (send_answers).
constexpr auto kGather = std::chrono::milliseconds(1);
constexpr size_t kGatherBytes = 64 << 10;

void release_if_large(std::string& buffer) {
  if (buffer.empty() && buffer.capacity() > kKeepBuffer) std::string().swap(buffer);
}

}  // namespace

void Session::on_answers() {
  if (!open()) return;
  while (!batches_.empty()) {
    Batch& front = *batches_.front();
    add_answers(front.answers);
    if (!front.done()) break;
    front.passed_on = true;
    batches_.pop_front();
  }
  send_answers();
}

// While more of a call's answers are due, new ones wait up to kGather (or
// until kGatherBytes are ready), so that a stream of short answers, each
// flushed by the tool on its own, reaches the client in a few writes rather
// than one per line: every write wakes the client. The last answer due goes
// at once: a caller waiting for its answer never waits for this. Answers
// for an attached output file go at once too: writing them wakes no one,
// and the timer would wake the daemon.
void Session::send_answers() {
  if (batches_.empty() || output_file_ || out_.size() >= kGatherBytes) return write_more();
  if (gathering_) return;
  gathering_ = true;
  gather_timer_.expires_after(kGather);
  gather_timer_.async_wait([self = shared_from_this()](const boost::system::error_code&) {
    self->gathering_ = false;
    self->write_more();
  });
}

void Session::on_prelude(const std::string& prelude) {
  for (auto& batch : batches_) {
    if (batch->prelude && !batch->done()) {
      batch->answers = prelude;
      batch->records = 0;
    }
  }
  on_answers();
}

void Session::on_tool_stderr(std::string_view bytes) {
  if (!open() || call_.quiet_tool) return;
  if (err_.size() + bytes.size() > kMaxPendingStderr) {
    err_dropped_ += bytes.size();
    return;
  }
  queue_behind(&out_, true);
  err_.append(bytes);
  heard_tool_stderr_ = true;
  write_more();
}

// Answers and stderr lines reach the client in the order they came from the
// tool (a warning before its answer, an answer before the next record's
// warning): the newest run of one kind collects in out_ or err_, and
// whatever of the other kind came before it waits in queued_, in order.
void Session::add_answers(std::string& answers) {
  queue_behind(&err_, false);
  if (out_.empty())
    out_.swap(answers);
  else
    out_ += answers;
  answers.clear();
}

void Session::queue_behind(std::string* older, bool answers) {
  if (older->empty()) return;
  queued_bytes_ += older->size();
  queued_.push_back({answers, std::move(*older)});
  older->clear();
}

void Session::write_more() {
  if (writing_ || closed()) return;
  if (!control_frame_.empty()) return write_control_frame();
  if (data_sent_ < data_block_.size()) return write_data();
  // Answers wait while the client is still to say where they go.
  if (!queued_.empty()) {
    if (queued_.front().answers && attach_ == AttachState::kAwaited) return;
    Queued front = std::move(queued_.front());
    queued_.pop_front();
    queued_bytes_ -= front.bytes.size();
    return front.answers ? send_answers_now(front.bytes) : write_stderr(front.bytes);
  }
  if (!err_.empty()) return write_stderr(err_);
  if (!out_.empty() && attach_ != AttachState::kAwaited) return send_answers_now(out_);
  if (!exit_frame_.empty()) {
    if (err_dropped_ > 0) spdlog::warn("a client did not read {} bytes of the tool's stderr", err_dropped_);
    writing_buffer_.swap(exit_frame_);
    exit_frame_.clear();
    writing_ = true;
    asio::async_write(socket_, asio::buffer(writing_buffer_), kTransferAll,
                      [self = shared_from_this()](const boost::system::error_code&, size_t) {
                        self->writing_ = false;
                        self->close();
                      });
    return;
  }
  finish_if_done();
}

bool Session::output_backlogged() const {
  return out_.size() + queued_bytes_ + (data_block_.size() - data_sent_) >= kMaxPendingOutput;
}

// The greeting, or the answer to ATTACH: before anything else.
void Session::write_control_frame() {
  writing_buffer_.swap(control_frame_);
  control_frame_.clear();
  writing_ = true;
  asio::async_write(socket_, asio::buffer(writing_buffer_), kTransferAll,
                    [self = shared_from_this()](const boost::system::error_code& error, size_t) {
                      self->writing_ = false;
                      if (error) return self->close();
                      self->write_more();
                    });
}

// Answers in order (`answers` is emptied): to the client's file, or in
// DATA frames.
void Session::send_answers_now(std::string& answers) {
  if (output_file_) return write_output_file(answers);
  data_block_.clear();
  data_block_.swap(answers);
  data_sent_ = 0;
  write_data();
}

// The tool's stderr lines (`bytes` is emptied), in one STDERR frame of
// bounded size; the rest goes first in line.
void Session::write_stderr(std::string& bytes) {
  writing_buffer_.clear();
  writing_buffer_.swap(bytes);
  if (writing_buffer_.size() > wire::kMaxControlPayload) {
    std::string rest = writing_buffer_.substr(wire::kMaxControlPayload);
    queued_bytes_ += rest.size();
    queued_.push_front({false, std::move(rest)});
    writing_buffer_.resize(wire::kMaxControlPayload);
  }
  wire::encode_header(header_, wire::kStderr, static_cast<uint32_t>(writing_buffer_.size()));
  writing_ = true;
  std::array<asio::const_buffer, 2> buffers = {asio::buffer(header_), asio::buffer(writing_buffer_)};
  asio::async_write(socket_, buffers, kTransferAll,
                    [self = shared_from_this()](const boost::system::error_code& error, size_t) {
                      self->writing_ = false;
                      if (error) return self->close();
                      self->after_write();
                    });
}

// The next DATA frame of data_block_.
void Session::write_data() {
  size_t size = std::min(kMaxDataFrame, data_block_.size() - data_sent_);
  wire::encode_header(header_, wire::kData, static_cast<uint32_t>(size));
  writing_ = true;
  std::array<asio::const_buffer, 2> buffers = {asio::buffer(header_),
                                               asio::buffer(data_block_.data() + data_sent_, size)};
  asio::async_write(socket_, buffers, kTransferAll,
                    [self = shared_from_this(), size](const boost::system::error_code& error, size_t) {
                      self->writing_ = false;
                      self->writing_buffer_.clear();
                      release_if_large(self->writing_buffer_);
                      if (error) return self->close();  // the client went away: drop its answers
                      self->data_sent_ += size;
                      self->after_write();
                    });
}

void Session::after_write() {
  if (data_sent_ == data_block_.size() && data_block_.capacity() > kMaxPendingOutput) {
    std::string().swap(data_block_);  // a huge answer's buffer goes back to the system
    data_sent_ = 0;
  }
  read_more();
  // The backlog may have been what kept us out of the pool, or what kept
  // an instance from reading the tool's answers for us.
  if (has_ready_input()) pool_.offer(shared_from_this());
  if (answers_held_ && !holds_back_answers()) {
    answers_held_ = false;
    pool_.read_held_output();
  }
  write_more();
}

}  // namespace viasock
