// Learning whether a tool can be served through a pipe or needs a terminal,
// without trusting the terminal blindly.
//
// A daemon started without -t/-T/-0/-P/-L/--pty starts two candidates of the
// tool: one whose stdout is a pipe (exactly what a direct run in a pipeline
// gets) and one whose stdout is a terminal (which makes C stdio, Python,
// Perl and Ruby flush every line). What each prints before it first waits for
// input is its prelude. The first record goes to both, one record at a time:
// - the pipe candidate answered: the tool flushes on a pipe; it serves, and
//   the terminal candidate is retired;
// - only the terminal candidate answered, or the pipe's answer stopped short
//   of the terminal's (a large answer filled a stdio buffer): the tool
//   buffers on a pipe. The terminal candidate serves, and the pipe
//   candidate's stdin is closed so that it prints everything it buffered;
//   that must equal the terminal's prelude and answer, or the tool prints
//   differently on a terminal (colour, a banner) and every call fails, naming
//   the tool's own flush option. Until then no call ends with success;
// Either way the losing candidate gets the record once more: a tool that
// answers it differently keeps state between records (awk's NR), so every
// call then gets a fresh instance of its own, as in a direct run.
// - neither answered: the tool took a record and waits for more input without
//   answering (sort, tac, records of several lines): every call fails, naming
//   the options that help.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "server/asio.h"
#include "server/batch.h"

namespace viasock {

class Instance;
class Pool;

class StdoutLearner : public BatchSink, public std::enable_shared_from_this<StdoutLearner> {
 public:
  StdoutLearner(asio::io_context& io, Pool& pool);

  // Starts both candidates; false with a status and reason when the tool
  // cannot be executed at all.
  bool start(int* status, std::string* error);
  // Feeds the next record when both candidates are free.
  void pump();
  bool owns(const Instance* instance) const;
  // Both candidates wait for input: the tool is loaded.
  bool ready() const { return pipe_ready_ && terminal_ready_; }
  void candidate_ready(Instance& candidate, const std::string& prelude);
  void candidate_exited(Instance* candidate, bool expected, int status, const std::string& message);
  void start_up_stderr(Instance& candidate, std::string_view line);
  void reap();
  // Shutdown: closes the candidates' input; true once they are gone.
  void close();
  void kill();
  bool finished() const;

  void on_batch_answered(Batch& batch) override;
  void on_batch_failed(Batch& batch, int status, const std::string& message) override;
  void on_batch_stderr(Batch& batch, std::string_view bytes) override;

 private:
  enum class Stage { kStarting, kComparing, kVerifying, kDone };

  void on_both_ready();
  void decide();
  void choose(const std::shared_ptr<Instance>& chosen, const std::string& prelude);
  void probe_state(const std::shared_ptr<Instance>& loser, const std::string& first_answer);
  void verify_terminal(const std::string& answer);
  void on_verified();
  void answer_record(std::string answer);
  std::string terminal_differs_message() const;

  asio::steady_timer verify_timer_;
  Pool& pool_;
  Stage stage_ = Stage::kStarting;
  std::shared_ptr<Instance> pipe_, terminal_;
  std::string pipe_prelude_, terminal_prelude_;
  // What the pipe candidate printed of its first answer before it waited
  // for more input: the part of it that filled its stdio buffer.
  std::string pipe_printed_;
  bool pipe_ready_ = false, terminal_ready_ = false;
  // The record being compared, and its two copies. Its bytes are shared by
  // every candidate that is given them, and dropped once the last is.
  std::shared_ptr<Batch> record_, pipe_copy_, terminal_copy_;
  std::shared_ptr<const std::string> record_bytes_;
  int answers_pending_ = 0;
  // The losing candidate gets the record a second time: a different answer
  // means the tool keeps state between records.
  std::shared_ptr<Batch> repeat_copy_;
  // The first answer it is compared with is remembered by its size and hash,
  // not kept: one 200 MB record must not stay resident once answered.
  std::shared_ptr<Instance> repeater_;
  struct Fingerprint {
    size_t size = 0, hash = 0;
    bool operator==(const Fingerprint&) const = default;
  };
  static Fingerprint fingerprint(std::string_view bytes);
  Fingerprint first_answer_;
};

}  // namespace viasock
