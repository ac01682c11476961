// One client connection: reads its framed input, cuts it into records,
// offers them to the pool in batches, and writes the answers back in order.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <vector>

#include "common/attached_files.h"
#include "common/byte_buffer.h"
#include "common/call_options.h"
#include "common/record_framer.h"
#include "common/unique_fd.h"
#include "common/wire.h"
#include "server/asio.h"
#include "server/clock.h"
#include "server/batch.h"
#include "server/session_state.h"
#include "server/tool_messages.h"

namespace viasock {

class Pool;
class Session;

// What a session needs from the daemon that accepted it.
class SessionHost {
 public:
  virtual ~SessionHost() = default;
  // A client said HELLO "run" (counted as a call) with these options.
  // Returns the call's number in the daemon (from 1), for the log.
  virtual uint64_t run_started(const CallOptions& call) = 0;
  // Once the tool cannot be served, every run fails with why; status
  // requests are still answered.
  virtual const ToolFailure* tool_failure() const { return nullptr; }
  // The session is over; the host drops its reference.
  virtual void session_closed(Session* session) = 0;
  // The daemon's state as a JSON object, for `viasock list`.
  virtual std::string status_json() const = 0;
  // `viasock stop`: finish the current clients, then exit.
  virtual void stop_requested() = 0;
  // `viasock restart`: replace the tool instances without failing a call.
  virtual void restart_requested() {}
};

class Session : public std::enable_shared_from_this<Session> {
 public:
  // `client`: the client's pid, as the daemon read it on accepting.
  Session(LocalSocket socket, pid_t client, Pool& pool, const RecordFramer& framer, SessionHost& host);

  // Greets the client and starts reading.
  void start();
  // An input record longer than this fails the call (--max-record).
  void set_max_record(uint64_t bytes) { max_record_ = bytes; }
  // The largest answer this call takes (--max-answer).
  uint64_t max_answer() const { return call_.max_answer > 0 ? call_.max_answer : RunOptions{}.max_answer; }

  // The pool's side. A client that does not read its answers gets no more
  // work: its backlog would only grow.
  bool has_ready_input() const { return ready_records_ > 0 && open() && !output_backlogged(); }
  // Complete records waiting for an instance, and their bytes.
  size_t ready_records() const { return open() ? ready_records_ : 0; }
  size_t ready_bytes() const { return open() ? ready_end_ : 0; }
  // Cuts the next batch (at least one record, else about max_bytes) and
  // appends its bytes to *bytes.
  std::shared_ptr<Batch> take_batch(size_t max_bytes, size_t max_records, std::string* bytes);
  // The same for a direct run (instance_direct.cpp), which gives the tool
  // the caller's bytes as they are: the terminator that completed an
  // unterminated last record is left out.
  std::shared_ptr<Batch> take_direct_batch(size_t max_bytes, std::string* bytes);
  // A batch of ours received answers; pass on what is now in order.
  void on_answers();
  // The prelude is known; fill our prelude batch.
  void on_prelude(const std::string& prelude);
  // A line the tool wrote to its stderr while working on our records (or
  // while starting): to the client's stderr, unless it asked for quiet.
  void on_tool_stderr(std::string_view bytes);
  // Sends the success EXIT once everything is answered and passed on.
  void finish_if_done();
  // Ends the session with an error (tool died, record timed out, daemon
  // stopping): the client gets what was answered in order, then `message`
  // and `status`. `tool_output`: what a tool that never read its input
  // printed, passed on before the end, as a direct run shows it.
  void fail(int status, const std::string& message, const std::string& tool_output = {});

  // A direct run (instance.h): a batch that takes the tool's output when no
  // record is in it, and the end of the call with the tool's own status
  // (the rest of the input is dropped, as a tool that exits early leaves it).
  std::shared_ptr<Batch> open_batch();
  void end_direct_run(int status, const std::string& message);
  // The client ended its input and every record went to the tool.
  bool input_finished() const { return input_ended() && ready_records_ == 0; }
  const RecordFramer& framer() const { return framer_; }

  // --retry: removes from the batch's kept input the records the tool
  // answered before it died; the rest is sent again.
  void drop_answered(Batch& batch) const;

  uint64_t records_in() const { return records_in_; }
  // How the log names this call: "call 7 (client pid 4242)".
  const std::string& log_name() const { return log_name_; }
  // An instance began a segment of this call's records (instance.h): the
  // call succeeds only once every such segment was settled, that is, once
  // the tool waited for input with everything it printed for them passed on.
  void segment_opened() { ++unsettled_segments_; }
  int segments_open() const { return unsettled_segments_; }
  // A segment of ours settled: what it printed is passed on, and a call
  // whose segments all settled may end.
  void segment_settled();
  // The batch taken last (Instance::took_in_segment), and whether an
  // instance waits for the segment that holds it to settle before it takes
  // the next (Pool::take_work).
  std::shared_ptr<Batch> last_taken() const { return last_taken_.lock(); }
  bool settle_wanted() const { return settle_wanted_; }
  void want_settle(bool wanted) { settle_wanted_ = wanted; }
  bool closed() const { return state_ == SessionState::kClosed; }
  // Still taking records and answers: neither closed nor failed.
  bool open() const { return state_ != SessionState::kFailed && state_ != SessionState::kClosed; }
  // --retry of this call: records in flight on a tool that died go to another.
  int retries() const { return call_.retries; }
  // A client streaming records (not `list` or `stop` asking).
  bool runs_records() const { return runs_records_; }
  // An open call that does not read its answers fast enough: the instance
  // answering it stops reading the tool's stdout (Instance::on_stdout)
  // and is told when the backlog is gone (Pool::read_held_output).
  bool holds_back_answers() const { return open() && output_backlogged(); }
  void answers_held() { answers_held_ = true; }

 private:
  // The only ways the lifecycle changes (session_state.h): each checks the
  // transition.
  void set_state(SessionState to);
  void set_attach(AttachState to);
  // The client ended its input (of an open session: callers ask that first).
  bool input_ended() const;
  void read_more();
  ssize_t receive(size_t* direct);
  void on_readable(const boost::system::error_code& error);
  void grow_read_buffer();
  void on_frame(wire::FrameType type, std::string_view bytes);
  void on_hello(std::string_view request);
  void name_call(uint64_t number);
  void scan_input();
  bool record_fits(size_t size);
  bool output_backlogged() const;
  void write_data();
  void write_control_frame();
  void add_answers(std::string& answers);
  void queue_behind(std::string* older, bool answers);
  void send_answers_now(std::string& answers);
  void after_write();
  void end_input();
  bool input_full() const;
  void send_answers();
  void write_more();
  void write_stderr(std::string& bytes);
  void close();
  // Attached files (attached_files.h, session_files.cpp).
  void on_attach(std::string_view request);
  size_t file_chunk(int fd) const;
  bool wants_file_input() const;
  void read_input_file_later();
  void read_input_file();
  void write_output_file(std::string& answers);

  LocalSocket socket_;
  Pool& pool_;
  const RecordFramer& framer_;
  SessionHost& host_;

  // Input: in_[0, ready_end_) holds ready_records_ complete records,
  // in_[ready_end_, end) the start of the next one.
  wire::FrameDecoder decoder_;
  std::string read_buffer_;
  ByteBuffer in_;
  size_t ready_end_ = 0, scan_resume_ = 0, ready_records_ = 0;
  // Bytes end_input() added to complete the last record, still in in_.
  size_t completion_ = 0;
  // Where the call is in its life, and in the ATTACH handshake.
  SessionState state_ = SessionState::kGreeting;
  AttachState attach_ = AttachState::kNone;
  // A HELLO "run" came: what the call is rather than where it is in its
  // life, and still true once it closed, when the daemon counts it out.
  bool runs_records_ = false;
  // A wait for the socket to be readable is pending: not a state, since
  // reading goes on in several (after END_INPUT, EOF tells the client died)
  // and pauses in each under back-pressure.
  bool reading_ = false;
  uint64_t max_record_ = UINT64_MAX;
  uint64_t records_in_ = 0;
  uint64_t records_taken_ = 0;  // records cut into batches so far
  pid_t client_;
  std::string log_name_ = "a call";

  // Output: batches in input order. The newest answers ready to send
  // collect in out_, the newest stderr lines in err_ (at most one of the
  // two holds bytes); what came before them waits in queued_, in order.
  std::deque<std::shared_ptr<Batch>> batches_;
  struct Queued {
    bool answers;
    std::string bytes;
  };
  std::deque<Queued> queued_;
  size_t queued_bytes_ = 0;
  std::string out_, err_, writing_buffer_;
  size_t err_dropped_ = 0;
  CallOptions call_;
  // Answers being sent, in DATA frames of bounded size.
  std::string data_block_;
  size_t data_sent_ = 0;
  char header_[wire::kHeaderSize];
  std::string exit_frame_;
  // A write to the socket is in flight: at most one at a time, in any state
  // before kClosed (the greeting, answers, the EXIT).
  bool writing_ = false;
  // The tool's stderr reached this call live (on_tool_stderr): a failure
  // does not repeat its tail. A fact about what was said, not a step.
  bool heard_tool_stderr_ = false;
  // An instance left the tool's stdout unread for this call: back-pressure
  // that comes and goes while the call streams, not a step of its life.
  bool answers_held_ = false;
  // Answers of a stream wait a moment for the next ones (send_answers()):
  // gathering_ says the timer is armed, a detail of the output, not a step
  // of the call.
  Timer gather_timer_;
  bool gathering_ = false;

  // Attached files: descriptors received with the client's bytes, and those
  // the session took. A control frame (the ATTACH answer) goes out before
  // anything else; answers go to output_file_ once it is taken. A greeting
  // that announced an ATTACH holds the answers until it came
  // (AttachState::kAwaited). control_frame_ also carries the greeting.
  // passed_truncated_: descriptors were lost on the way (the daemon was
  // out of them), a fact about what arrived.
  std::vector<UniqueFd> passed_fds_;
  bool passed_truncated_ = false;
  UniqueFd input_file_, output_file_;
  size_t file_chunk_ = 0;
  int unsettled_segments_ = 0;
  std::weak_ptr<Batch> last_taken_;
  // The pool's wish (want_settle), set and cleared by it while the call
  // streams.
  bool settle_wanted_ = false;
  // A read of the input file is posted (read_input_file_later): keeps a
  // second one from being posted, in kStreaming only.
  bool file_read_posted_ = false;
  std::string control_frame_;
};

}  // namespace viasock
