#include "client/stream_pump.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>
#include <memory>
#include <vector>

#include "common/attached_files.h"
#include "common/descriptor_passing.h"
#include "common/error_output.h"
#include "common/exit_codes.h"
#include "common/wire.h"

namespace viasock {
namespace {

// A streaming call moves megabytes per wake-up: every read, send and write
// costs a context switch on a busy machine, so fewer, larger ones pay.
constexpr size_t kChunk = 1 << 20;
// Socket buffers that hold a whole chunk both ways, so that neither side
// waits for the other in the middle of one.
constexpr int kSocketBuffer = 2 << 20;

// Writes all of `data` to stdout. A closed reader ends us with SIGPIPE, as
// it would end the tool itself.
bool write_stdout(std::string_view data) {
  while (!data.empty()) {
    ssize_t n = write(STDOUT_FILENO, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      print_error(kExitDaemon, std::string("cannot write standard output: ") + std::strerror(errno));
      return false;
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

// The tool's stderr, passed on as a direct run would show it. A closed or
// failing stderr loses those bytes, never the answers.
void write_stderr(std::string_view data) {
  while (!data.empty()) {
    ssize_t n = write(STDERR_FILENO, data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    data.remove_prefix(static_cast<size_t>(n));
  }
}

class Pump {
 public:
  Pump(UniqueFd socket, const char* log_hint, bool verbose)
      : socket_(std::move(socket)), log_hint_(log_hint), verbose_(verbose) {
    // new char[] leaves the buffers uninitialised: zero-filling 2 MiB
    // would cost a warm call page faults for nothing.
    out_.reset(new char[wire::kHeaderSize + kChunk]);
    in_.reset(new char[kChunk]);
    fcntl(socket_.get(), F_SETFL, fcntl(socket_.get(), F_GETFL) | O_NONBLOCK);
    // Capped by the system's limit; a smaller buffer only costs speed.
    setsockopt(socket_.get(), SOL_SOCKET, SO_SNDBUF, &kSocketBuffer, sizeof kSocketBuffer);
    setsockopt(socket_.get(), SOL_SOCKET, SO_RCVBUF, &kSocketBuffer, sizeof kSocketBuffer);
  }

  int run(const AttachedStreams& offer) {
    offer_files(offer);
    while (!finished_) {
      bool want_stdin = stdin_open_ && pending_ == 0 && !awaiting_attach_;
      // A negative fd is skipped: a closed pipe would report POLLHUP forever.
      pollfd fds[2] = {{want_stdin ? STDIN_FILENO : -1, POLLIN, 0}, {socket_.get(), POLLIN, 0}};
      if (pending_ > 0) fds[1].events |= POLLOUT;
      if (poll(fds, 2, -1) < 0) {
        if (errno == EINTR) continue;
        return fail(std::string("poll: ") + std::strerror(errno));
      }
      if (fds[1].revents & (POLLIN | POLLHUP | POLLERR)) receive();
      if (finished_) break;
      bool writable = fds[1].revents & (POLLOUT | POLLERR);
      if (want_stdin && (fds[0].revents & (POLLIN | POLLHUP | POLLERR))) {
        read_stdin();
        writable = true;  // a fresh chunk: try at once, the socket has room more often than not
      }
      // Only when the socket may take more: a daemon that stopped reading
      // (back-pressure) would answer every other attempt with EAGAIN.
      if (pending_ > 0 && writable) send_pending();
    }
    return status_;
  }

 private:
  // Reads a chunk of stdin straight after a frame header, so that one send
  // carries header and data.
  void read_stdin() {
    ssize_t n = read(STDIN_FILENO, out_.get() + wire::kHeaderSize, kChunk);
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) return;
    if (n < 0) {
      // Sending END_INPUT would let the daemon answer a truncated input.
      fail(std::string("cannot read standard input: ") + std::strerror(errno));
      return;
    }
    if (n == 0) {
      wire::encode_header(out_.get(), wire::kEndInput, 0);
      pending_ = wire::kHeaderSize;
      stdin_open_ = false;
    } else {
      wire::encode_header(out_.get(), wire::kData, static_cast<uint32_t>(n));
      pending_ = wire::kHeaderSize + static_cast<size_t>(n);
    }
    sent_ = 0;
  }

  // Hands stdin and stdout to the daemon where it can use them itself
  // (attached_files.h); reading stdin waits for its answer.
  void offer_files(const AttachedStreams& streams) {
    if (!streams.any()) return;
    if (streams.input) attach_fds_.push_back(STDIN_FILENO);
    if (streams.output) attach_fds_.push_back(STDOUT_FILENO);
    std::string payload = encode_attach(streams);
    wire::encode_header(out_.get(), wire::kAttach, static_cast<uint32_t>(payload.size()));
    std::memcpy(out_.get() + wire::kHeaderSize, payload.data(), payload.size());
    pending_ = wire::kHeaderSize + payload.size();
    sent_ = 0;
    awaiting_attach_ = true;
  }

  void send_pending() {
    while (sent_ < pending_) {
      std::string_view rest(out_.get() + sent_, pending_ - sent_);
      // The descriptors travel with the first byte of the ATTACH frame.
      ssize_t n = attach_fds_.empty() ? send(socket_.get(), rest.data(), rest.size(), MSG_NOSIGNAL)
                                      : send_with_descriptors(socket_.get(), rest, attach_fds_);
      if (n > 0) attach_fds_.clear();
      if (n < 0) {
        if (errno == EINTR) continue;
        if (errno == EAGAIN) return;
        // The daemon went away; what it sent last (its EXIT) is still to be read.
        pending_ = sent_ = 0;
        stdin_open_ = false;
        return;
      }
      sent_ += static_cast<size_t>(n);
    }
    pending_ = sent_ = 0;
  }

  void receive() {
    ssize_t n = recv(socket_.get(), in_.get(), kChunk, 0);
    if (n < 0) {
      if (errno == EINTR || errno == EAGAIN) return;
      fail(std::string("lost the connection to the daemon: ") + std::strerror(errno) + "; see " + log_hint_);
      return;
    }
    if (n == 0) {
      fail(std::string("the daemon closed the connection without an answer; see ") + log_hint_);
      return;
    }
    bool ok = decoder_.feed(std::string_view(in_.get(), static_cast<size_t>(n)),
                            [this](wire::FrameType type, std::string_view bytes) { on_frame(type, bytes); });
    if (!ok && !finished_) fail("bad answer from the daemon: " + decoder_.error());
  }

  void on_frame(wire::FrameType type, std::string_view bytes) {
    if (finished_) return;
    if (type == wire::kData) {
      if (!write_stdout(bytes)) finish(kExitDaemon);
      return;
    }
    if (type == wire::kStderr) return write_stderr(bytes);
    if (type == wire::kAttach) return on_attached(decode_attach(bytes));
    if (type == wire::kExit) {
      int status = kExitDaemon;
      std::string message;
      if (!wire::decode_exit(bytes, &status, &message)) message = "malformed exit frame from the daemon";
      finish(message.empty() ? status : print_error(status, message));
    }
  }

  void on_attached(const AttachedStreams& taken) {
    awaiting_attach_ = false;
    // The daemon reads our input file to its end itself.
    if (taken.input) stdin_open_ = false;
    if (!verbose_ || !taken.any()) return;
    std::string what = taken.input && taken.output ? "reads standard input and writes standard output"
                       : taken.input               ? "reads standard input"
                                                   : "writes standard output";
    std::string line = "viasock: the daemon " + what + " itself\n";
    (void)!write(STDERR_FILENO, line.data(), line.size());
  }

  int fail(const std::string& message) {
    print_error(kExitDaemon, message);
    finish(kExitDaemon);
    return status_;
  }

  void finish(int status) {
    finished_ = true;
    status_ = status;
  }

  UniqueFd socket_;
  const char* log_hint_;
  bool verbose_;
  std::unique_ptr<char[]> out_, in_;
  size_t pending_ = 0, sent_ = 0;
  bool stdin_open_ = true;
  std::vector<int> attach_fds_;
  bool awaiting_attach_ = false;
  bool finished_ = false;
  int status_ = kExitDaemon;
  wire::FrameDecoder decoder_;
};

}  // namespace

int pump_streams(UniqueFd socket, const char* log_hint, const AttachedStreams& offer, bool verbose) {
  return Pump(std::move(socket), log_hint, verbose).run(offer);
}

}  // namespace viasock
