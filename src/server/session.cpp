#include "server/session.h"

#include <spdlog/spdlog.h>
#include <sys/uio.h>

#include <cerrno>
#include <cstring>
#include <utility>

#include "common/descriptor_passing.h"
#include "common/exit_codes.h"
#include "server/pool.h"
#include "server/tool_messages.h"

namespace viasock {
namespace {

// Per client and resident while it is connected: 100 clients cost 6 MiB.
// A client whose reads fill the buffer streams: its buffer doubles up to
// kMaxReadChunk, for fewer wake-ups per megabyte.
constexpr size_t kReadChunk = 64 * 1024;
constexpr size_t kMaxReadChunk = 1 << 20;
// The client's socket holds this much of its answers while it is busy.
constexpr int kSocketBuffer = 2 << 20;
// Back-pressure: stop reading a client that is this far ahead of the tool,
// or whose answers it does not read fast enough. A single record larger than
// this is still read whole: a partial record never goes to the tool.
constexpr size_t kMaxPendingInput = 1 << 20;
constexpr size_t kMaxPendingOutput = 4 << 20;
// The tool's stderr waiting for a client that does not read it: past this,
// lines are dropped (and counted) rather than stalling the tool.
constexpr size_t kMaxPendingStderr = 1 << 20;
// Answers go out in DATA frames of at most this size, however large out_ grew.
constexpr size_t kMaxDataFrame = 1 << 20;
// How long, and up to how many bytes, answers wait for more (send_answers).
constexpr auto kGather = std::chrono::milliseconds(1);
constexpr size_t kGatherBytes = 64 << 10;
// Of each batch's first record, what a message may show (record_text).
constexpr size_t kRecordStart = 32;

// A batch at least this large that is most of the input buffer is moved out
// of it rather than copied (one huge record); a stream's batches are copied,
// so that the buffer is reused. A buffer larger than kKeepBuffer is freed
// rather than kept once empty (one 200 MB record must not stay resident).
constexpr size_t kMoveBatch = 1 << 20;
constexpr size_t kKeepBuffer = 4 << 20;

void release_if_large(std::string& buffer) {
  if (buffer.empty() && buffer.capacity() > kKeepBuffer) std::string().swap(buffer);
}

}  // namespace

Session::Session(LocalSocket socket, pid_t client, Pool& pool, const RecordFramer& framer, SessionHost& host)
    : socket_(std::move(socket)),
      pool_(pool),
      framer_(framer),
      host_(host),
      client_(client),
      gather_timer_(socket_.get_executor()) {}

void Session::start() {
  control_frame_ = wire::encode_frame(wire::kHello, "viasock " + std::to_string(wire::kProtocolVersion));
  write_more();
  read_more();
}

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
  socket_.async_wait(asio::socket_base::wait_read, [self = shared_from_this()](const boost::system::error_code& error) {
    self->on_readable(error);
  });
}

// Payload of a DATA frame goes straight into in_; headers, control frames
// and what follows a frame's end go through read_buffer_ and the decoder.
// A read ends at most a header past the frame it reads into in_, so that
// the next frame's payload is read straight too.
ssize_t Session::receive(size_t* direct) {
  size_t payload = greeted_ && !input_done_ ? decoder_.data_remaining() : 0;
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
    case wire::kHello:
      on_hello(bytes);
      break;
    case wire::kData:
      // With an input file attached, the file is the input until its end.
      if (greeted_ && !input_done_ && !input_file_ && open()) in_.append(bytes);
      break;
    case wire::kEndInput:
      if (!input_file_) end_input();
      break;
    case wire::kAttach:
      on_attach(bytes);
      break;
    default:
      break;
  }
}

void Session::on_hello(std::string_view request) {
  if (greeted_ || input_done_) return;
  if (decode_run_request(request, &call_)) {
    awaiting_attach_ = call_.attach;
    // Each call's records have its own limit, as -w is its own.
    if (call_.max_record > 0) max_record_ = call_.max_record;
    if (const ToolFailure* failure = host_.tool_failure())
      return fail(failure->status, failure->message, failure->output);
    greeted_ = true;
    name_call(host_.run_started(call_));
    pool_.session_joined(shared_from_this());
    // Stands first in line for the prelude (-P, or what the tool printed
    // before it first waited for input), before any answer.
    auto prelude = std::make_shared<Batch>();
    prelude->session = shared_from_this();
    prelude->records = 1;
    prelude->prelude = true;
    batches_.push_back(prelude);
    pool_.wait_for_prelude(shared_from_this());
    return;
  }
  if (request == wire::kRequestStop) host_.stop_requested();
  if (request == wire::kRequestRestart) host_.restart_requested();
  if (request == wire::kRequestStatus || request == wire::kRequestStop || request == wire::kRequestRestart) {
    out_ = host_.status_json();
    input_done_ = true;
    return write_more();
  }
  spdlog::warn("a client asked for '{}', which this daemon does not serve", request);
  fail(kExitDaemon, "the daemon does not understand the request '" + std::string(request) +
                        "'; is this viasock older than the daemon?");
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

// The client has sent everything. An unterminated last record is completed
// as if its terminator had been there.
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

void Session::end_input() {
  if (input_done_) return;
  input_done_ = true;
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
  if (batch && input_done_ && ready_records_ == 0 && completion_ > 0 && bytes->size() >= completion_) {
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

void Session::segment_settled() {
  settle_wanted_ = false;
  // What the settled segment printed last is now in order.
  on_answers();
  if (unsettled_segments_ > 0) --unsettled_segments_;
  finish_if_done();
}

std::shared_ptr<Batch> Session::open_batch() {
  auto batch = std::make_shared<Batch>();
  batch->session = shared_from_this();
  batch->records = 1;
  batches_.push_back(batch);
  last_taken_ = batch;
  return batch;
}

void Session::end_direct_run(int status, const std::string& message) {
  // fail() passes on every batch that is done first, so status 0 ends the
  // call as a success with all of its answers.
  fail(status, message);
}

// The log names a call by its number in the daemon and its client's pid,
// which a user can find in their own process list or build log.
void Session::name_call(uint64_t number) {
  log_name_ = "call " + std::to_string(number);
  if (client_ > 0) log_name_ += " (client pid " + std::to_string(client_) + ")";
}

void Session::drop_answered(Batch& batch) const {
  size_t answered = batch.record_count - batch.records, length = 0;
  if (answered > 0 && framer_.count(batch.input, answered, &length) == answered) batch.input.erase(0, length);
  batch.record_count = batch.records;
  batch.input_bytes = batch.input.size();
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

void Session::fail(int status, const std::string& message, const std::string& tool_output) {
  if (!open()) return;
  // Answers already complete and in order still reach the client.
  while (!batches_.empty() && batches_.front()->done()) {
    add_answers(batches_.front()->answers);
    batches_.front()->passed_on = true;
    batches_.pop_front();
  }
  if (!tool_output.empty()) {
    std::string copy = tool_output;
    add_answers(copy);
  }
  failed_ = true;
  awaiting_attach_ = false;  // what was answered goes out as DATA rather than wait
  batches_.clear();
  ready_records_ = 0;
  // The tail of the tool's stderr a message may end with was heard live.
  exit_frame_ = wire::encode_exit(status, heard_tool_stderr_ ? without_stderr_tail(message) : message);
  exit_queued_ = true;
  // Its answers are no longer wanted: an instance holding them reads on.
  if (std::exchange(answers_held_, false)) pool_.read_held_output();
  write_more();
}

void Session::finish_if_done() {
  if (exit_queued_ || !open()) return;
  if (input_done_ && ready_records_ == 0 && batches_.empty() && out_.empty() && err_.empty() && queued_.empty() &&
      unsettled_segments_ == 0) {
    // The tool's output is still being checked (stdout_learner.h).
    // (Not an answer to `list`, `stop` or `restart`: no record went in.)
    if (runs_records() && !pool_.may_succeed()) return pool_.hold(shared_from_this());
    exit_frame_ = wire::encode_exit(kExitOk, "");
    exit_queued_ = true;
    write_more();
  }
}

void Session::write_more() {
  if (writing_ || closed_) return;
  if (!control_frame_.empty()) return write_control_frame();
  if (data_sent_ < data_block_.size()) return write_data();
  // Answers wait while the client is still to say where they go.
  if (!queued_.empty()) {
    if (queued_.front().answers && awaiting_attach_) return;
    Queued front = std::move(queued_.front());
    queued_.pop_front();
    queued_bytes_ -= front.bytes.size();
    return front.answers ? send_answers_now(front.bytes) : write_stderr(front.bytes);
  }
  if (!err_.empty()) return write_stderr(err_);
  if (!out_.empty() && !awaiting_attach_) return send_answers_now(out_);
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

void Session::close() {
  if (closed_) return;
  closed_ = true;
  ready_records_ = 0;
  in_.clear();
  out_.clear();
  err_.clear();
  queued_.clear();
  queued_bytes_ = 0;
  data_block_.clear();
  data_sent_ = 0;
  batches_.clear();
  input_file_.reset();
  output_file_.reset();
  boost::system::error_code ignored;
  socket_.shutdown(LocalSocket::shutdown_both, ignored);
  socket_.close(ignored);
  if (std::exchange(answers_held_, false)) pool_.read_held_output();
  host_.session_closed(this);
}

}  // namespace viasock
