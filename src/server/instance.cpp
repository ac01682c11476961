#include "server/instance.h"

#include <signal.h>
#include <spdlog/spdlog.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/exit_codes.h"
#include "server/pool.h"
#include "server/session.h"

namespace viasock {
namespace {

constexpr size_t kReadChunk = 256 * 1024;
// An empty buffer larger than this is freed rather than kept: one 200 MB
// record must not stay resident after it passed.
constexpr size_t kKeepBuffer = 1 << 20;

void release_if_large(std::string& buffer) {
  if (buffer.empty() && buffer.capacity() > kKeepBuffer) std::string().swap(buffer);
}
constexpr size_t kStderrTail = 4096;
constexpr int kStderrTailLines = 10;

const RecordFramer& line_framer() {
  static const std::unique_ptr<RecordFramer> framer = make_framer(RecordFormat{});
  return *framer;
}

}  // namespace

Instance::Instance(asio::io_context& io, Pool& pool, int index)
    : io_(io), pool_(pool), index_(index), stdin_(io), stdout_(io), stderr_(io), timeout_timer_(io), exit_timer_(io),
      schedule_(sched::now_seconds()) {}

Instance::~Instance() {
  // A child is never left behind, even on an unexpected path.
  if (pid_ > 0 && !reaped_) {
    ::kill(pid_, SIGKILL);
    while (waitpid(pid_, nullptr, 0) < 0 && errno == EINTR) {
    }
  }
}

bool Instance::start(int* status, std::string* error) {
  ToolProcess process;
  if (!spawn_tool(pool_.config().command, &process, status, error)) return false;
  pid_ = process.pid;
  stdin_.assign(process.stdin_pipe.release());
  stdout_.assign(process.stdout_pipe.release());
  stderr_.assign(process.stderr_pipe.release());
  prelude_in_lines_ = pool_.config().prelude_lines > 0;
  prelude_left_ = prelude_in_lines_ ? pool_.config().prelude_lines : pool_.config().prelude_records;
  spdlog::info("instance {} started the tool, pid {}", index_, pid_);
  read_stdout();
  read_stderr();
  pump();
  return true;
}

void Instance::pump() {
  // A killed instance takes no new work: it would only fail with it. Its
  // replacement, started when it is gone, pulls what waits in the pool.
  if (writing_ || input_closed_ || killed_by_us_ || finished_ || stdout_closed_ || reaped_) return;
  // Retired or recycled: done once its batches are answered.
  if (schedule_.role() == sched::Role::kRetiring) {
    if (in_flight_.empty()) close_input();
    return;
  }
  // Batch sizes and how many are in flight: see scheduler.h.
  uint64_t quota = pool_.config().max_records;
  while (schedule_.wants_work(in_flight_.size(), in_flight_bytes_, quota)) {
    sched::BatchLimit limit = schedule_.next_batch(pool_.costs(), quota);
    auto batch = pool_.take_work(limit.bytes, limit.records, &write_buffer_);
    if (!batch) break;
    if (in_flight_.empty()) last_progress_ = std::chrono::steady_clock::now();
    batch->record_count = batch->records;
    batch->sent_at = sched::now_seconds();
    schedule_.on_taken(batch->records);
    in_flight_bytes_ += batch->input_bytes;
    in_flight_.push_back(std::move(batch));
  }
  if (write_buffer_.empty()) return;
  pool_.after_taking(*this);
  arm_timeout();
  writing_ = true;
  asio::async_write(stdin_, asio::buffer(write_buffer_),
                    [self = shared_from_this()](const boost::system::error_code& error, size_t) {
                      self->writing_ = false;
                      self->write_buffer_.clear();
                      release_if_large(self->write_buffer_);
                      // A failed write means the tool closed its stdin or died;
                      // its exit is reported when its stdout closes.
                      if (error) {
                        self->input_closed_ = true;
                        return;
                      }
                      self->pump();
                    });
}

void Instance::read_stdout() {
  if (!read_buffer_) read_buffer_.reset(new char[kReadChunk]);  // uninitialised on purpose
  stdout_.async_read_some(asio::buffer(read_buffer_.get(), kReadChunk),
                          [self = shared_from_this()](const boost::system::error_code& error, size_t size) {
                            if (!error) {
                              self->reserve_for_answer(size);
                              self->out_.append(self->read_buffer_.get(), size);
                            }
                            self->on_stdout(error, size);
                          });
}

void Instance::on_stdout(const boost::system::error_code& error, size_t) {
  if (finished_) return;
  if (error) {
    stdout_closed_ = true;
    return check_exit();
  }
  process_output();
  read_stdout();
}

// Routes complete answers to the batches in flight, oldest first.
void Instance::process_output() {
  size_t pos = 0;
  while (pos < out_.size()) {
    std::string_view rest(out_.data() + pos, out_.size() - pos);
    if (prelude_left_ > 0) {
      size_t used = take_prelude(rest);
      if (used == 0) break;
      pos += used;
      continue;
    }
    if (in_flight_.empty()) {
      // Nobody asked for this (a tool that talks when its stdin closes, or
      // one that answers more than once); it must not reach a later client.
      spdlog::warn("instance {}: dropping {} bytes the tool printed with no record pending", index_, rest.size());
      pos = out_.size();
      out_resume_ = 0;
      break;
    }
    Batch& batch = *in_flight_.front();
    size_t begin = pos, answered = 0;
    // As in Session::scan_input: the first answer resumes an earlier scan,
    // the rest are counted in one go.
    const RecordFramer& framer = pool_.output_framer();
    size_t end = framer.find_end(std::string_view(out_).substr(pos), &out_resume_);
    if (end == RecordFramer::npos) break;
    pos += end;
    out_resume_ = 0;
    size_t more_end = 0;
    answered = 1 + framer.count(std::string_view(out_).substr(pos), batch.records - 1, &more_end);
    pos += more_end;
    batch.records -= answered;
    take_answers(batch, begin, &pos);
    answered_ = true;
    last_progress_ = std::chrono::steady_clock::now();
    pool_.count_answers(answered);
    std::shared_ptr<Session> session = batch.session;
    if (batch.done()) {
      double now = sched::now_seconds();
      pool_.on_batch_done(*this, batch.record_count, batch.input_bytes,
                          schedule_.on_batch_done(batch.record_count, batch.input_bytes, batch.sent_at, now));
      in_flight_bytes_ -= batch.input_bytes;
      in_flight_.pop_front();
      if (in_flight_.empty()) schedule_.on_idle(now);
    }
    session->on_answers();
  }
  out_.erase(0, pos);
  release_if_large(out_);
  pump();
}

// A 1:1 tool answers a large record with about as many bytes: room for
// them up front spares growing a huge buffer step by step, each step a copy
// that briefly holds the answer twice.
void Instance::reserve_for_answer(size_t more) {
  if (in_flight_.empty() || out_.size() + more <= out_.capacity()) return;
  size_t expected = in_flight_.front()->input_bytes + kReadChunk;
  if (expected > kKeepBuffer && expected > out_.size() + more) out_.reserve(expected);
}

// Passes out_[begin, *pos) to the batch: moved when it is all of out_ (the
// common case of a stream, and of one huge answer), else copied.
void Instance::take_answers(Batch& batch, size_t begin, size_t* pos) {
  if (begin == 0 && *pos == out_.size() && batch.answers.empty()) {
    batch.answers.swap(out_);
    out_.clear();
    *pos = 0;
    return;
  }
  batch.answers.append(out_, begin, *pos - begin);
}

size_t Instance::take_prelude(std::string_view data) {
  const RecordFramer& framer = prelude_in_lines_ ? line_framer() : pool_.output_framer();
  size_t used = 0;
  while (prelude_left_ > 0) {
    size_t end = framer.find_end(data.substr(used), &out_resume_);
    if (end == RecordFramer::npos) break;
    used += end;
    out_resume_ = 0;
    --prelude_left_;
  }
  prelude_.append(data.substr(0, used));
  if (prelude_left_ == 0) pool_.set_prelude(prelude_);
  return used;
}

void Instance::read_stderr() {
  stderr_buffer_.resize(4096);
  stderr_.async_read_some(asio::buffer(stderr_buffer_),
                          [self = shared_from_this()](const boost::system::error_code& error, size_t size) {
                            if (error) return;
                            self->log_stderr(std::string_view(self->stderr_buffer_.data(), size));
                            self->read_stderr();
                          });
}

void Instance::log_stderr(std::string_view bytes) {
  stderr_tail_.append(bytes);
  if (stderr_tail_.size() > kStderrTail) stderr_tail_.erase(0, stderr_tail_.size() - kStderrTail);
  for (char c : bytes) {
    if (c == '\n' || stderr_line_.size() >= 4096) {
      spdlog::info("tool[{}]: {}", pid_, stderr_line_);
      stderr_line_.clear();
      if (c == '\n') continue;
    }
    stderr_line_ += c;
  }
}

std::string Instance::stderr_tail() const {
  std::string tail = stderr_tail_;
  if (!tail.empty() && tail.back() != '\n') tail += '\n';
  size_t cut = tail.size() - 1;
  for (int lines = 0; lines < kStderrTailLines && cut != std::string::npos && cut > 0; ++lines)
    cut = tail.rfind('\n', cut - 1);
  return cut == std::string::npos || cut == tail.size() - 1 ? tail : tail.substr(cut + 1);
}

void Instance::arm_timeout() {
  double seconds = pool_.config().record_timeout;
  if (seconds <= 0 || timeout_armed_) return;
  timeout_armed_ = true;
  timeout_timer_.expires_at(last_progress_ + std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                                                 std::chrono::duration<double>(seconds)));
  timeout_timer_.async_wait([self = shared_from_this()](const boost::system::error_code& error) {
    self->timeout_armed_ = false;
    if (!error) self->on_timeout();
  });
}

// Checked lazily: answers only move last_progress_, and the timer re-arms
// itself from there, so the hot path never touches the timer.
void Instance::on_timeout() {
  if (finished_ || in_flight_.empty() || killed_by_us_) return;
  double seconds = pool_.config().record_timeout;
  if (std::chrono::steady_clock::now() - last_progress_ < std::chrono::duration<double>(seconds))
    return arm_timeout();
  char text[64];
  snprintf(text, sizeof text, "%g", seconds);
  std::string message = "tool '" + pool_.config().command.argv[0] + "' did not answer a record within " + text +
                        " s (-w); it was killed, and a new instance serves later calls";
  spdlog::warn("instance {}: {}", index_, message);
  auto failed = std::move(in_flight_);
  in_flight_.clear();
  in_flight_bytes_ = 0;
  for (auto& batch : failed) batch->session->fail(kExitTimeout, message);
  kill();
}

void Instance::reap() {
  if (reaped_ || pid_ <= 0) return;
  int status = 0;
  pid_t rc = waitpid(pid_, &status, WNOHANG);
  if (rc != pid_) return;
  reaped_ = true;
  wait_status_ = status;
  check_exit();
}

// The tool is gone once its stdout closed and it was reaped. Either may come
// first; the other gets a bounded wait, and a tool that closed its stdout
// but keeps running is killed.
void Instance::check_exit() {
  if (finished_) return;
  if (stdout_closed_ && !reaped_) reap();
  if (stdout_closed_ && reaped_) {
    // Posted, so that stderr already read but not yet handled gets logged
    // and into the message first.
    asio::post(io_, [self = shared_from_this()] { self->finish(); });
    return;
  }
  exit_timer_.expires_after(std::chrono::milliseconds(stdout_closed_ ? 2000 : 1000));
  exit_timer_.async_wait([self = shared_from_this()](const boost::system::error_code& error) {
    if (error || self->finished_) return;
    if (!self->reaped_) {
      self->reap();
      if (!self->reaped_) self->kill();
    }
    self->stdout_closed_ = true;
    self->check_exit();
  });
}

void Instance::finish() {
  if (finished_) return;
  finished_ = true;
  boost::system::error_code ignored;
  timeout_timer_.cancel();
  exit_timer_.cancel();
  // What the tool said last, including what is still in the pipe.
  stderr_.non_blocking(true, ignored);
  char buffer[4096];
  for (int i = 0; i < 16; ++i) {
    ssize_t n = ::read(stderr_.native_handle(), buffer, sizeof buffer);
    if (n <= 0) break;
    log_stderr(std::string_view(buffer, static_cast<size_t>(n)));
  }
  if (!stderr_line_.empty()) log_stderr("\n");
  stdin_.close(ignored);
  stdout_.close(ignored);
  stderr_.close(ignored);

  int status = exit_code_for_wait_status(wait_status_);
  std::string message = "tool '" + pool_.config().command.argv[0] + "' " + describe_wait_status(wait_status_);
  message += answered_ ? " while records were waiting for answers" : " before it answered anything";
  std::string tail = stderr_tail();
  if (!tail.empty()) message += "; its stderr ends with:\n" + tail;
  spdlog::info("instance {}: tool pid {} {}", index_, pid_, describe_wait_status(wait_status_));
  auto failed = std::move(in_flight_);
  in_flight_.clear();
  for (auto& batch : failed) batch->session->fail(status, message);
  pool_.instance_exited(this, answered_, killed_by_us_, status, message);
}

void Instance::close_input() {
  input_closed_ = true;
  boost::system::error_code ignored;
  stdin_.close(ignored);
}

void Instance::kill() {
  killed_by_us_ = true;
  if (pid_ > 0 && !reaped_) ::kill(pid_, SIGKILL);
}

}  // namespace viasock
