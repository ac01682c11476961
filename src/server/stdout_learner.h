// Learning whether a tool can be served through a pipe or needs a terminal,
// and whether it keeps state, without ever running more instances of it than
// the pool allows (docs/DESIGN.md, "Learning a tool").
//
// One candidate starts, its stdout a pipe (what a direct run in a pipeline
// gets). What it prints before it first waits for input is its prelude. The
// first record of the first call goes to it, answered in lock-step:
// - It answered (and the answer does not look like a full stdio buffer):
//   the tool flushes on a pipe. The candidate serves the rest of that call
//   alone. When the call is over, the first record goes to it three times more: a
//   different answer means the tool keeps state between records (awk's NR),
//   and every later call gets an instance of its own, served as a direct run.
//   Whatever the tool prints until then is the first call's (it is alone on
//   the instance, in one segment: instance.h), so a tool whose answers vary
//   in length still gives that call the direct run's bytes.
//   The first call ends with success only once this is known; if the tool
//   keeps state and prints more when its input ends, that call fails
//   (its end cannot be known any more) rather than end short.
// - It took the record and went quiet: it buffers on a pipe, needs several
//   records, or answers only at the end of its input. The first call is
//   served as a direct run on that same candidate: the rest of the call's
//   input, its stdin closed at the end, everything it prints and its exit
//   status are the call's, so the bytes are the direct run's by
//   construction. Once it has exited, a terminal candidate starts; its
//   prelude and answer to the first record must be what the pipe printed
//   first (else the tool prints differently on a terminal: colour, a banner),
//   then it gets the record again (the state probe) and serves.
// A call without any record that comes first is a direct run of the
// candidate too (its prelude and whatever it prints at the end of its
// input); a new candidate then starts.
//
// Where framing was given (-t, -T, -0, -P, -L, --pty, --pipe), the
// candidate's stdout is the one the options chose, no shape is learned, and
// a tool that does not answer its first record is not tried on a terminal:
// after that first call's direct run, every call gets an instance of its
// own. Whether it keeps state is probed as above: a user's framing says
// nothing about that.
#pragma once

#include <array>
#include <deque>
#include <memory>
#include <string>
#include <string_view>

#include "server/asio.h"
#include "server/batch.h"

namespace viasock {

class Instance;
class Pool;
class Session;

class StdoutLearner : public BatchSink, public std::enable_shared_from_this<StdoutLearner> {
 public:
  StdoutLearner(asio::io_context& io, Pool& pool);

  // Starts the pipe candidate; false with a status and reason when the tool
  // cannot be executed at all.
  bool start(int* status, std::string* error);
  // Takes the first record once the candidate waits for input.
  void pump();
  bool owns(const Instance* instance) const;
  // The tool is loaded: the first candidate waits for input.
  bool ready() const { return pipe_ready_; }
  bool done() const { return stage_ == Stage::kDone; }
  void candidate_ready(Instance& candidate, const std::string& prelude);
  // A candidate (or the instance the first call was served on) exited.
  void candidate_exited(Instance* candidate, bool expected, int status, const std::string& message);
  void start_up_stderr(Instance& candidate, std::string_view line);
  // The first call has all its answers (it waits to succeed), or is gone.
  void call_over(Session* session);
  // A batch the instance serving the first call took: its longest record
  // may become a second probe record.
  void saw_batch(const Batch& batch, std::string_view bytes);
  void reap();
  void read_held_output();
  // Shutdown: closes the candidates' input; true once they are gone.
  void close();
  void kill();
  bool finished() const;

  void on_batch_answered(Batch& batch) override;
  void on_batch_failed(Batch& batch, int status, const std::string& message) override;
  void on_batch_stderr(Batch& batch, std::string_view bytes) override;

 private:
  enum class Stage {
    kStarting,          // the pipe candidate loads
    kEmptyCall,         // a call without records is its direct run; then another starts
    kFirstRecord,       // the first record is on it
    kFirstCall,         // it flushes: it serves the first call alone
    kProbing,           // the first record thrice more, on the same instance
    kClosing,           // it keeps state: its input closed, its last words awaited
    kDirectRun,         // it did not answer: the first call is its direct run
    kTerminalStarting,  // then a terminal candidate loads
    kTerminalAnswer,    // and answers the first record, checked against the pipe's output
    kTerminalProbe,     // and gets it again
    kDone,
  };

  void on_first_answer(std::string answer);
  void serve_first_call_directly(std::string printed);
  void start_terminal();
  void serve_each_call_directly(const char* why);
  void on_terminal_answer(std::string answer);
  void on_probe_answer(const std::string& answer);
  void finish_closing(std::string late_output);
  void probe(const std::shared_ptr<Instance>& instance);
  void feed_probe(Instance& instance);
  // Keeps `record` if it is among the two longest seen (saw_batch).
  void keep_if_longer(std::string_view record);
  std::shared_ptr<Batch> copy_of_record();

  asio::io_context& io_;
  Pool& pool_;
  Stage stage_ = Stage::kStarting;
  std::shared_ptr<Instance> pipe_, terminal_;
  std::string pipe_prelude_, terminal_prelude_;
  bool pipe_ready_ = false;
  // The first record's batch (its call's), the call itself, and the
  // record's bytes, kept until the state probe: they are shared by every
  // candidate given them.
  std::shared_ptr<Batch> record_, copy_;
  std::weak_ptr<Session> first_call_;
  std::shared_ptr<const std::string> record_bytes_;
  double record_timeout_ = 0;  // the first call's -w, seconds
  // What the pipe candidate printed as a direct run (its start, bounded).
  std::string pipe_output_;
  bool pipe_output_complete_ = true;
  // The first answer the probe is compared with, by size and hash: a
  // 200 MB answer must not stay resident once passed on.
  struct Fingerprint {
    size_t size = 0, hash = 0;
    bool operator==(const Fingerprint&) const = default;
  };
  static Fingerprint fingerprint(std::string_view bytes);
  Fingerprint first_answer_;
  // The state probe: records to feed, and what each answer is checked
  // against (the .cpp says why these records).
  struct ProbeStep {
    std::shared_ptr<const std::string> record;
    enum Check { kLikeFirstAnswer, kReference, kIgnored, kLikeReference } check;
  };
  std::deque<ProbeStep> probe_steps_;
  Fingerprint probe_reference_;
  // The two longest records of the first call seen so far, longest first,
  // and how many of its bytes were looked at.
  std::array<std::shared_ptr<const std::string>, 2> longest_;
  size_t scanned_ = 0;
};

}  // namespace viasock
