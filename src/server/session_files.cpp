// A session's attached files (attached_files.h): the client's input file,
// read here as if its bytes had come in DATA frames, and its output file,
// written here instead of sending DATA frames. Both are regular files (or
// /dev/null), which never make the event loop wait on another process.
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "common/exit_codes.h"
#include "server/pool.h"
#include "server/session.h"

namespace viasock {
namespace {

// The input file is read this much at a time, once what is left of the
// last read is below kFileRefill (or holds no complete record): a read never
// waits, so nothing is gained by reading ahead, and a small rest is cheap to
// move to the front of the buffer for the next read.
constexpr size_t kFileChunk = 1 << 20;
constexpr size_t kFileRefill = 64 << 10;

}  // namespace

// Reads as large as the file, up to kFileChunk: a one-line input must not
// leave a megabyte of buffer behind in the daemon's heap.
size_t Session::file_chunk(int fd) const {
  struct stat st;
  off_t at = lseek(fd, 0, SEEK_CUR);
  uint64_t left = fstat(fd, &st) == 0 && at >= 0 && st.st_size > at ? static_cast<uint64_t>(st.st_size - at) : 0;
  return static_cast<size_t>(std::min<uint64_t>({kFileChunk, max_record_, std::max<uint64_t>(kFileRefill, left + 1)}));
}

// The client's ATTACH: which streams it passed, in the order of the
// descriptors that came with the frame. What we take is answered at once;
// the client relays the rest. Nothing is taken from a call whose greeting did
// not announce the ATTACH (its answers may already have gone out as DATA,
// and the client could still be writing those when ours would land), nor a
// stream whose descriptor did not arrive (the daemon was out of
// descriptors) or is not the kind of file the client promised.
void Session::on_attach(std::string_view request) {
  // One ATTACH per call: a second would swap files in the middle.
  if (attach_ == AttachState::kAnswered) return passed_fds_.clear();
  set_attach(AttachState::kAnswered);
  AttachedStreams offered = decode_attach(request), taken;
  size_t next = 0;
  auto passed = [this, &next]() { return next < passed_fds_.size() ? std::move(passed_fds_[next++]) : UniqueFd(); };
  bool usable = call_.attach && !passed_truncated_ && state_ == SessionState::kStreaming;
  if (offered.input) {
    UniqueFd input = passed();
    if (usable && input && attachable_input(input.get())) {
      file_chunk_ = file_chunk(input.get());
      input_file_ = std::move(input);
      taken.input = true;
    }
  }
  if (offered.output) {
    UniqueFd output = passed();
    // stderr_fd -1: the client already checked its stderr is another file.
    if (usable && output && attachable_output(output.get(), -1)) {
      output_file_ = std::move(output);
      taken.output = true;
    }
  }
  passed_fds_.clear();
  control_frame_ = wire::encode_frame(wire::kAttach, encode_attach(taken));
  write_more();
  read_more();
}

// More of the file is read once little is left of the last read, or it
// holds no complete record yet.
bool Session::wants_file_input() const {
  return input_file_ && state_ == SessionState::kStreaming && (ready_records_ == 0 || in_.size() < kFileRefill);
}

// Posted, not called: read_more() runs inside take_batch(), which an
// instance calls while it pumps.
void Session::read_input_file_later() {
  if (file_read_posted_ || !wants_file_input()) return;
  file_read_posted_ = true;
  asio::post(socket_.get_executor(), [self = shared_from_this()] { self->read_input_file(); });
}

// Reads until a complete record is ready and the refill mark is passed, or
// the file ends. A chunk is at most one --max-record long, as a socket read
// is (see Session::read_more), and a file that grows is still read to its
// end, in smaller chunks.
void Session::read_input_file() {
  file_read_posted_ = false;
  while (wants_file_input()) {
    ssize_t n = ::read(input_file_.get(), in_.prepare(file_chunk_), file_chunk_);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      std::string reason = std::strerror(errno);
      input_file_.reset();
      return fail(kExitDaemon, "cannot read standard input: " + reason);
    }
    if (n == 0) {
      input_file_.reset();
      end_input();
      break;
    }
    in_.commit(static_cast<size_t>(n));
    scan_input();
  }
  if (has_ready_input()) pool_.offer(shared_from_this());
}

// Answers in order (`answers` is emptied), straight into the client's file.
// A failed write (disk full) fails the call as the tool's own write would
// have.
void Session::write_output_file(std::string& answers) {
  std::string_view rest(answers);
  while (!rest.empty()) {
    ssize_t n = ::write(output_file_.get(), rest.data(), rest.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      std::string reason = std::strerror(errno);
      output_file_.reset();
      answers.clear();
      return fail(kExitDaemon, "cannot write standard output: " + reason);
    }
    rest.remove_prefix(static_cast<size_t>(n));
  }
  answers.clear();
  after_write();
}

}  // namespace viasock
