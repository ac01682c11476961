// One client connection: reads its framed input, cuts it into records,
// offers them to the pool in batches, and writes the answers back in order.
#pragma once

#include <deque>
#include <memory>
#include <string>

#include "common/record_framer.h"
#include "common/wire.h"
#include "server/asio.h"
#include "server/batch.h"

namespace viasock {

class Pool;
class Session;

// What a session needs from the daemon that accepted it.
class SessionHost {
 public:
  virtual ~SessionHost() = default;
  // A client said HELLO "run" (counted as a call).
  virtual void run_started() = 0;
  // The session is over; the host drops its reference.
  virtual void session_closed(Session* session) = 0;
  // The daemon's state as a JSON object, for `viasock list`.
  virtual std::string status_json() const = 0;
  // `viasock stop`: finish the current clients, then exit.
  virtual void stop_requested() = 0;
};

class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(LocalSocket socket, Pool& pool, const RecordFramer& framer, SessionHost& host);

  // Greets the client and starts reading.
  void start();

  // The pool's side.
  bool has_ready_input() const { return ready_records_ > 0 && open(); }
  // Complete records waiting for an instance, and their bytes.
  size_t ready_records() const { return open() ? ready_records_ : 0; }
  size_t ready_bytes() const { return open() ? ready_end_ - consumed_ : 0; }
  // Cuts the next batch (at least one record, else about max_bytes) and
  // appends its bytes to *bytes.
  std::shared_ptr<Batch> take_batch(size_t max_bytes, size_t max_records, std::string* bytes);
  // A batch of ours received answers; pass on what is now in order.
  void on_answers();
  // The prelude is known; fill our prelude batch.
  void on_prelude(const std::string& prelude);
  // Ends the session with an error (tool died, record timed out, daemon
  // stopping): the client gets what was answered in order, then `message`
  // and `status`.
  void fail(int status, const std::string& message);

  uint64_t records_in() const { return records_in_; }
  // A client streaming records (not `list` or `stop` asking).
  bool runs_records() const { return greeted_; }
  // Whether the session waits in the pool's round-robin queue.
  bool queued = false;

 private:
  bool open() const { return !closed_ && !failed_; }
  void read_more();
  void on_read(const boost::system::error_code& error, size_t size);
  void on_frame(wire::FrameType type, std::string_view bytes);
  void on_hello(std::string_view request);
  void scan_input();
  void end_input();
  bool input_full() const;
  void write_more();
  void finish_if_done();
  void close();
  void compact_input();
  void move_front(size_t length, std::string* bytes);

  LocalSocket socket_;
  Pool& pool_;
  const RecordFramer& framer_;
  SessionHost& host_;

  // Input: in_[consumed_, ready_end_) holds ready_records_ complete records,
  // in_[ready_end_, end) the start of the next one.
  wire::FrameDecoder decoder_;
  std::string read_buffer_;
  std::string in_;
  size_t consumed_ = 0, ready_end_ = 0, scan_resume_ = 0, ready_records_ = 0;
  bool reading_ = false, greeted_ = false, input_done_ = false;
  uint64_t records_in_ = 0;

  // Output: batches in input order; out_ holds answers ready to send.
  std::deque<std::shared_ptr<Batch>> batches_;
  std::string out_, writing_buffer_;
  char header_[wire::kHeaderSize];
  std::string exit_frame_;
  bool writing_ = false, exit_queued_ = false, failed_ = false, closed_ = false;
};

}  // namespace viasock
