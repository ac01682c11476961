// A batch: consecutive records of one session written to one instance in one
// go. It is the unit of routing: an instance answers its batches in the order
// it received them (the tool answers first in, first out), and a session
// passes its batches' answers to its client in the order it cut them, which
// keeps every client's answers in its own input order even when -j spreads
// its batches over several instances.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace viasock {

class Session;
struct Batch;

// Who else may own a batch: the learner feeds copies of the first records to
// the candidate processes it compares (see stdout_learner.h).
class BatchSink {
 public:
  virtual ~BatchSink() = default;
  virtual void on_batch_answered(Batch& batch) = 0;
  virtual void on_batch_failed(Batch& batch, int status, const std::string& message) = 0;
  virtual void on_batch_stderr(Batch& batch, std::string_view bytes) = 0;
};

struct Batch {
  // The call whose records these are. The daemon owns its calls, and a call
  // owns its batches (Session::batches_): a batch only refers to its call.
  // Once a call is gone (its client vanished), its answers go nowhere.
  std::weak_ptr<Session> session;
  // Instead of a call (to_sink): the learner's copies of a record, which
  // it compares (stdout_learner.h). Weak: the sink holds its batches.
  std::weak_ptr<BatchSink> sink;
  bool to_sink = false;
  size_t records = 0;       // answers still to come
  size_t record_count = 0;  // records it holds, for measuring the tool's cost
  double sent_at = 0;       // when it was given to an instance (sched::now_seconds)
  size_t input_bytes = 0;   // what this batch holds of the instance's window
  std::string answers;      // complete answers not yet passed to the session
  bool prelude = false;     // stands for the prelude, not for records
  double timeout = 0;       // -w of the call, seconds; 0 = none
  // For messages that name a record: the number of its first record in
  // the call (from 1) and that record's first bytes (record_text).
  uint64_t first_record = 0;
  std::string first_bytes;
  // --retry: the records' bytes, kept to be sent again should the tool die
  // with them in flight, and how often it did.
  std::string input;
  int retries_left = 0, deaths = 0;
  // Segments (instance.h): the last batch an instance took for a caller may
  // still get output until that instance settles. Once another instance
  // takes the caller's next batch, its answers wait for that settle
  // (kHeld): output printed late then lands before the next batch's.
  enum class Segment { kNone, kOpen, kHeld };
  Segment segment = Segment::kNone;
  bool passed_on = false;  // the session passed its answers on

  // Every answer came (the instance is done with it) ...
  bool answered() const { return records == 0; }
  // ... and the session may pass them on.
  bool done() const { return answered() && segment != Segment::kHeld; }
};

}  // namespace viasock
