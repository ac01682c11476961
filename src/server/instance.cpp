#include "server/instance.h"

#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>

#include "common/exit_codes.h"
#include "server/pool.h"
#include "server/session.h"

namespace viasock {
namespace {

// The tool's stdout is read straight into the output buffer, this much at a
// time and at most kReadBurst per wake-up.
constexpr size_t kReadChunk = 256 * 1024;
constexpr size_t kReadBurst = 1 << 20;
// The output buffer of a stream stays (it is reused without a copy); one
// larger than this is freed once empty.
constexpr size_t kKeepOutput = 4 << 20;

// How long records may sit in a quiescent tool before the call fails: the
// watchdog looks this often while records are in flight.
constexpr auto kStuckCheck = std::chrono::seconds(1);
// In segments: the first look soon, then ever more rarely while the tool
// is busy (each look is a wake-up), at least every 50 ms.
constexpr auto kSegmentCheck = std::chrono::milliseconds(5);
constexpr auto kSegmentCheckMax = std::chrono::milliseconds(50);
// Sessions remembered for output that answers no record.
constexpr size_t kRecentSessions = 16;

const RecordFramer& line_framer() {
  static const std::unique_ptr<RecordFramer> framer = make_framer(RecordFormat{});
  return *framer;
}

}  // namespace

Instance::Instance(asio::io_context& io, Pool& pool, int index, StdoutKind stdout_kind, Role role)
    : io_(io),
      pool_(pool),
      index_(index),
      stdout_kind_(stdout_kind),
      role_(role),
      stdin_(io),
      stdout_(io),
      stderr_(io),
      timeout_timer_(io),
      exit_timer_(io),
      answer_timer_(io),
      quiet_(io),
      schedule_(sched::now_seconds()) {}

Instance::~Instance() = default;

// Learning instances, and those whose prelude is what they print at start,
// take records only once they first wait for input.
bool Instance::learns() const {
  return role_ == Role::kCandidate || pool_.learns() || !pool_.prelude_given();
}
bool Instance::lock_step() const {
  return role_ == Role::kCandidate || (role_ == Role::kServing && pool_.lock_step());
}

bool Instance::start(int* status, std::string* error) {
  if (!process_.spawn(pool_.command(), stdout_kind_, status, error)) return false;
  stdin_.assign(process_.stdin_fd.release());
  stdout_.assign(process_.stdout_fd.release());
  stderr_.assign(process_.stderr_fd.release());
  // Read by hand when readable (read_available, drain_stderr); set once, as
  // setting it is a system call.
  boost::system::error_code ignored;
  stdout_.non_blocking(true, ignored);
  stderr_.non_blocking(true, ignored);
  const PoolConfig& config = pool_.config();
  prelude_in_lines_ = config.prelude_lines > 0;
  if (pool_.framing_given()) prelude_left_ = prelude_in_lines_ ? config.prelude_lines : config.prelude_records;
  spdlog::info("instance {} started the tool, pid {}, stdout a {}", index_, pid(),
               stdout_kind_ == StdoutKind::kPipe ? "pipe" : "terminal");
  read_stdout();
  read_stderr();
  watch_start_up();
  pump();
  return true;
}

void Instance::promote(int index) {
  role_ = Role::kServing;
  answered_ = true;  // the record it was chosen on
  index_ = index;
  pump();
}

void Instance::demote() {
  role_ = Role::kCandidate;
  retire();
}

void Instance::serve_directly(const std::shared_ptr<Session>& owner, std::shared_ptr<Batch> first) {
  role_ = Role::kDirect;
  owner_ = owner;
  if (!first && owner && owner->open()) first = owner->open_batch();
  if (first) in_flight_.push_back(std::move(first));
  route_direct();
  pump();
}

void Instance::keep_direct_prefix(std::string so_far, size_t limit) {
  direct_prefix_limit_ = limit;
  direct_prefix_complete_ = so_far.size() <= limit;
  if (!direct_prefix_complete_) so_far.resize(limit);
  direct_prefix_ = std::move(so_far);
}

std::string Instance::release_direct_prefix(bool* complete) {
  *complete = direct_prefix_complete_;
  return std::exchange(direct_prefix_, {});
}

// Learning instances take work only once they wait for input: what they
// print before is their prelude. Otherwise the watch only tells `ready()`.
void Instance::watch_start_up() {
  quiet_.start(pid(), process_.stdin_inode(), puller(), stdout_kind_ == StdoutKind::kTerminal,
               [weak = weak_from_this()](ToolActivity activity) {
                 if (auto self = weak.lock()) self->on_start_up_quiet(activity);
               });
}

void Instance::on_start_up_quiet(ToolActivity activity) {
  if (finished_ || activity == ToolActivity::kGone) return;
  process_.start_up_done();
  if (activity == ToolActivity::kUnobservable && learns())
    return pool_.cannot_learn("cannot observe the tool through /proc/PID/syscall on this system");
  // A learning instance's prelude is all it printed so far: -P must find
  // its records there.
  if (learns() && prelude_left_ > 0) {
    const RecordFramer& framer = prelude_in_lines_ ? line_framer() : pool_.output_framer();
    size_t end = 0;
    prelude_left_ -= static_cast<int>(framer.count(out_.view(), static_cast<size_t>(prelude_left_), &end));
  }
  if (activity == ToolActivity::kWaitingForInput && prelude_left_ > 0) return prelude_incomplete();
  ready_ = true;
  std::string prelude;
  if (learns()) {
    prelude = out_.take(out_.size(), kKeepBuffer);
    drain_stderr();
  }
  pool_.instance_ready(*this, prelude);
  pump();
  if (!in_flight_.empty() && !lock_step()) watch_stuck();
}

void Instance::feed(std::shared_ptr<Batch> batch, std::shared_ptr<const std::string> bytes) {
  fed_.emplace_back(std::move(batch), std::move(bytes));
  pump();
}

bool Instance::serving() const {
  return role_ == Role::kServing && schedule_.role() == sched::Role::kActive && (ready_ || answered_) &&
         !killed_by_us_ && !finished_ && !input_closed_ && !stdout_closed_;
}

void Instance::pump() {
  // A killed instance takes no new work: it would only fail with it. Its
  // replacement, started when it is gone, pulls what waits in the pool.
  if (writing_ || input_closed_ || killed_by_us_ || finished_ || stdout_closed_ || process_.reaped()) return;
  if (retiring_) return close_input_when_idle();
  if (((learns() || wait_for_load_) && !ready_) || stepping_) return;
  if (role_ == Role::kDirect) return pump_direct();
  // Records wait until the prelude (-P) is complete: written earlier, their
  // answers could be taken for part of it.
  if (prelude_left_ > 0 && !ready_) return;
  // Records the learner hands over go one at a time, answered in
  // lock-step: to a candidate, or (the state probe) to the instance that
  // served the first call.
  if (!fed_.empty() || role_ == Role::kCandidate) {
    if (fed_.empty() || !in_flight_.empty() || settling_) return;
    // What the tool printed for a caller's records is that caller's before
    // a record of the learner's goes in.
    if (segment_owner()) return settle_segment();
    auto [batch, bytes] = std::move(fed_.front());
    fed_.pop_front();
    in_flight_bytes_ += batch->input_bytes;
    in_flight_.push_back(std::move(batch));
    return write(std::move(bytes), true);
  }
  if (role_ == Role::kServing) {
    // A batch sent again (--retry) runs alone (see send_alone): nothing
    // beside it, and only once this instance finished what it has.
    bool sent_again = !in_flight_.empty() && in_flight_.front()->deaths > 0;
    if (sent_again || (!in_flight_.empty() && pool_.has_retries())) return;
    // A batch sent again is a segment of its own: what the tool prints
    // until it settles is that batch's.
    if (pool_.has_retries() && in_segments() && segment_owner()) return settle_segment();
    if (auto batch = pool_.take_retry()) return send_alone(std::move(batch));
  }
  if (lock_step()) {
    if (!in_flight_.empty()) return;
    std::string bytes;
    auto batch = pool_.take_work_for(*this, SIZE_MAX, 1, &bytes);
    if (!batch) return;
    in_flight_bytes_ += batch->input_bytes;
    in_flight_.push_back(std::move(batch));
    return write(std::move(bytes));
  }
  if (settling_) return;
  if (in_segments() && segment_should_settle()) return settle_segment();
  // Batch sizes and how many are in flight: see scheduler.h.
  // A call that has this instance to itself keeps it past --max-records.
  uint64_t quota = owner() ? 0 : pool_.config().max_records;
  std::string bytes;
  bool was_idle = in_flight_.empty();
  while (schedule_.wants_work(in_flight_.size(), in_flight_bytes_, quota)) {
    sched::BatchLimit limit = schedule_.next_batch(pool_.costs(), quota, pool_.spreading_helps() && !shares_caller());
    auto batch = pool_.take_work_for(*this, limit.bytes, limit.records, &bytes);
    if (!batch) break;
    batch->sent_at = sched::now_seconds();
    schedule_.on_taken(batch->records);
    ++segment_batches_;
    in_flight_bytes_ += batch->input_bytes;
    in_flight_.push_back(std::move(batch));
  }
  if (bytes.empty()) return;
  if (was_idle) pool_.instance_busy(*this);
  pool_.after_taking(*this);
  write(std::move(bytes));
}

// --retry: records that were in flight on a tool that died go to an
// instance alone. Should one of them be what killed the tool, it takes no
// other call's records with it a second time.
void Instance::send_alone(std::shared_ptr<Batch> batch) {
  if (in_segments()) {
    open_segment(batch->session);
    took_in_segment(batch);
  }
  batch->sent_at = sched::now_seconds();
  in_flight_bytes_ += batch->input_bytes;
  std::string bytes = batch->input;  // a copy: the batch may need it again
  in_flight_.push_back(std::move(batch));
  write(std::move(bytes));
}

void Instance::write(std::string bytes) {
  // The mode is fixed per write: the pool may stop learning meanwhile.
  write(std::make_shared<const std::string>(std::move(bytes)), lock_step());
}

void Instance::write(std::shared_ptr<const std::string> bytes, bool step) {
  if (in_flight_.size() == 1) last_progress_ = std::chrono::steady_clock::now();
  bool stepping = stepping_ = step;
  write_buffer_ = std::move(bytes);
  arm_timeout();
  writing_ = true;
  asio::async_write(stdin_, asio::buffer(*write_buffer_), kTransferAll,
                    [self = shared_from_this(), stepping](const boost::system::error_code& error, size_t) {
                      self->writing_ = false;
                      self->write_buffer_.reset();
                      // A failed write means the tool closed its stdin or died;
                      // its exit is reported when its stdout closes.
                      if (error) {
                        self->input_closed_ = true;
                        return;
                      }
                      if (stepping)
                        self->watch_answer();
                      else
                        self->watch_stuck();
                      self->pump();
                    });
}

// Every read of the tool's stdout is ours, made when the descriptor is
// readable (read_stdout) or when a watch looks (pull_stdout): an Asio read
// could complete in between and put its bytes after later ones.
size_t Instance::read_available() {
  if (stdout_fd() < 0 || stdout_closed_) return 0;
  size_t pulled = 0;
  while (pulled < kReadBurst) {
    reserve_for_answer(kReadChunk);
    ssize_t n = ::read(stdout_fd(), out_.prepare(kReadChunk), kReadChunk);
    if (n > 0) {
      printed_bytes_ += static_cast<uint64_t>(n);
      out_.commit(static_cast<size_t>(n));
      pulled += static_cast<size_t>(n);
      // A short read emptied a pipe: asking again would only be told so. A
      // terminal hands out a few KiB per read however much waits.
      if (stdout_kind_ == StdoutKind::kPipe && static_cast<size_t>(n) < kReadChunk) break;
      continue;
    }
    // End of file; a terminal reports EIO instead once the tool closed it.
    if (n == 0 || (errno != EAGAIN && errno != EINTR)) stdout_closed_ = true;
    if (n < 0 && errno == EINTR) continue;
    break;
  }
  return pulled;
}

// In lock-step the answer is complete only when the tool waits again; until
// then output only accumulates. A candidate keeps what it prints after its
// stdin closed for the learner's comparison.
void Instance::process_output() {
  // Killed by us: what it still printed is no one's.
  if (kill_reason_) return out_.clear();
  route_output();
  // What is left is one answer (or prelude) whose end has not come: held
  // whole until it does, so bounded like a record.
  if (!finished_ && role_ != Role::kDirect && out_.size() > answer_limit()) answer_too_large();
}

void Instance::route_output() {
  if (stepping_ || (learns() && !ready_)) return;
  if (role_ == Role::kCandidate) {
    take_late_output();
    return;
  }
  if (role_ == Role::kDirect) {
    drain_stderr();
    return route_direct();
  }
  // The tool's stderr lines about these answers reach their callers first.
  drain_stderr();
  route_framed();
  pump();
}

// The front call's --max-answer; the default for the learner's own records.
uint64_t Instance::answer_limit() const {
  if (!in_flight_.empty() && in_flight_.front()->session) return in_flight_.front()->session->max_answer();
  return RunOptions{}.max_answer;
}

// The calls in flight fail (their answers are in doubt from here on), and
// the tool, mid-answer, cannot serve another record.
void Instance::answer_too_large() {
  std::string message = answer_too_large_message(pool_.tool_facts(), answer_limit());
  spdlog::error("instance {}: {}", index_, message);
  kill_reason_ = "printed an answer larger than --max-answer, and viasock killed it";
  killed_over_max_answer_ = true;
  fail_in_flight(kExitRecordTooLarge, message);
  out_.clear();
  out_.release_if_large(kKeepBuffer);
  kill();
}

void Instance::take_late_output() {
  late_output_ += out_.view();
  out_.clear();
}

// Routes complete answers to the batches in flight, oldest first.
void Instance::route_framed() {
  size_t pos = 0;
  const RecordFramer& framer = pool_.output_framer();
  while (pos < out_.size()) {
    std::string_view rest(out_.data() + pos, out_.size() - pos);
    if (prelude_left_ > 0) {
      size_t used = take_prelude(rest);
      if (used == 0) break;
      pos += used;
      continue;
    }
    // A record the learner handed over is answered in lock-step: what is
    // left belongs to it.
    if (stepping_) break;
    if (in_flight_.empty()) {
      // Printed once its input closed (retiring, or the daemon stopping):
      // a summary of everything it read, no caller's answer.
      if (input_closed_)
        pool_.prints_at_end(rest.size());
      else if (!give_to_segment(rest.size()))
        on_unattributed_output(rest.size());
      pos = out_.size();
      out_resume_ = 0;
      break;
    }
    Batch& batch = *in_flight_.front();
    size_t begin = pos;
    // As in Session::scan_input: the first answer resumes an earlier scan,
    // the rest are counted in one go.
    size_t end = framer.find_end(rest, &out_resume_);
    if (end == RecordFramer::npos) break;
    pos += end;
    out_resume_ = 0;
    size_t more_end = 0;
    size_t answered = 1 + framer.count(out_.view().substr(pos), batch.records - 1, &more_end);
    pos += more_end;
    batch.records -= answered;
    take_answers(batch, begin, &pos);
    answered_ = true;
    last_progress_ = std::chrono::steady_clock::now();
    pool_.count_answers(answered);
    std::shared_ptr<Batch> front = in_flight_.front();
    if (batch.answered()) {
      double now = sched::now_seconds();
      double seconds = schedule_.on_batch_done(batch.record_count, batch.input_bytes, batch.sent_at, now);
      pool_.on_batch_done(*this, batch.record_count, batch.input_bytes, seconds, tool_cpu_since_last_batch());
      in_flight_bytes_ -= batch.input_bytes;
      in_flight_.pop_front();
      if (in_flight_.empty()) schedule_.on_idle(now);
      remember_answered(front);
    }
    front->session->on_answers();
  }
  out_.consume(pos);
  out_.release_if_large(kKeepOutput);
}

// The tool's CPU time since the last batch it finished went into this one
// (the next may have started meanwhile; over many batches that evens out).
double Instance::tool_cpu_since_last_batch() {
  double cpu = process_.cpu_seconds(), last = std::exchange(tool_cpu_at_batch_, cpu);
  return cpu >= 0 && last >= 0 ? cpu - last : -1;
}

// A 1:1 tool answers a large record with about as many bytes: room for
// them up front spares growing a huge buffer step by step, each step a copy
// that briefly holds the answer twice.
void Instance::reserve_for_answer(size_t more) {
  if (in_flight_.empty() || out_.size() + more <= out_.capacity()) return;
  size_t expected = in_flight_.front()->input_bytes + kReadChunk;
  if (expected > kKeepBuffer && expected > out_.size() + more) out_.reserve(expected);
}

// Passes out_[begin, *pos) to the batch: a large answer that is all of
// out_ (one huge record) is moved, anything else copied, so that the buffer
// of a stream is reused.
void Instance::take_answers(Batch& batch, size_t begin, size_t* pos) {
  if (begin == 0 && *pos == out_.size() && batch.answers.empty()) {
    batch.answers = out_.take(*pos, kKeepBuffer);
    *pos = 0;
    return;
  }
  batch.answers.append(out_.view().substr(begin, *pos - begin));
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

// The tool waits for input before it printed the prelude it was said to
// have: feeding it records would make their answers part of the prelude,
// sent to every later call.
void Instance::prelude_incomplete() {
  const PoolConfig& config = pool_.config();
  int expected = prelude_in_lines_ ? config.prelude_lines : config.prelude_records;
  std::string message =
      prelude_incomplete_message(pool_.tool_facts(), expected - prelude_left_, expected, prelude_in_lines_);
  kill();
  pool_.cannot_serve(kExitToolQuit, message);
}

void Instance::watch_answer(std::chrono::microseconds after) {
  quiet_.start(
      pid(), process_.stdin_inode(), puller(), stdout_kind_ == StdoutKind::kTerminal,
      [weak = weak_from_this()](ToolActivity activity) {
        if (auto self = weak.lock()) self->on_answer_quiet(activity);
      },
      after);
}

// The tool waits for input with records unanswered. Where framing was given
// that breaks it, unless an answer is still due from a timer
// (late_answer_grace.h): true while the grace runs, with the look
// `look_again` scheduled for its end.
bool Instance::in_late_answer_grace(void (Instance::*look_again)(std::chrono::microseconds)) {
  if (!pool_.framing_given()) return false;
  double timeout = 0;
  for (const auto& batch : in_flight_) timeout = std::max(timeout, batch->timeout);
  double left = late_answer_grace_.look(sched::now_seconds(), printed_bytes_, LateAnswerGrace::seconds_for(timeout));
  if (left <= 0) return false;
  // Looked at often enough to pass an answer on soon after it came.
  double next = std::min(left, LateAnswerGrace::kLookSeconds);
  (this->*look_again)(std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::duration<double>(next)));
  return true;
}

// Lock-step: the tool waits again, so everything it printed is the answer.
void Instance::on_answer_quiet(ToolActivity activity) {
  if (activity == ToolActivity::kUnobservable)
    return pool_.cannot_learn("cannot observe the tool through /proc/PID/syscall on this system");
  if (finished_ || in_flight_.empty() || activity != ToolActivity::kWaitingForInput) return;
  if (out_.empty() && in_late_answer_grace(&Instance::watch_answer)) return;
  late_answer_grace_.reset();
  drain_stderr();
  stepping_ = false;
  std::shared_ptr<Batch> batch = std::move(in_flight_.front());
  in_flight_.pop_front();
  in_flight_bytes_ -= batch->input_bytes;
  last_progress_ = std::chrono::steady_clock::now();
  out_resume_ = 0;
  batch->answers = out_.take(out_.size(), kKeepBuffer);
  batch->records = 0;
  if (!batch->session) {
    if (auto sink = batch->sink.lock()) sink->on_batch_answered(*batch);
    return pump();
  }
  if (batch->answers.empty() && !answered_) {
    // It will answer later, if ever (sort answers at the end of its input):
    // nothing can be passed on as this record's answer.
    std::string message = no_answer_message(pool_.tool_facts(), 1, false, record_text(*batch, 0));
    spdlog::warn("instance {}: {}: {}; killing it", index_, batch->session->log_name(), message);
    batch->session->fail(kExitToolQuit, message);
    kill();
    return pool_.answers_missing();
  }
  // A tool that answered records before and waits again without printing
  // answered this one with nothing (grep's line that does not match);
  // should it print later after all, that output goes to the same caller
  // or fails loudly (give_to_segment, on_unattributed_output). An empty
  // answer teaches no shape.
  answered_ = true;
  pool_.count_answers(1);
  remember_answered(batch);
  // Learned from before it goes out: passing it on moves it.
  if (!batch->answers.empty()) pool_.learn_answer(batch->answers);
  batch->session->on_answers();
  pump();
}

// While records are in flight, look now and then whether the tool took them
// and waits for more without answering: a tool that buffers its output, one
// that needs other framing options, or one that is no record filter at all.
// `after`, when not negative, is the delay of the first look.
void Instance::watch_stuck(std::chrono::microseconds after) {
  // A direct run may wait for all its input before it answers (sort).
  if (quiet_.active() || in_flight_.empty() || role_ == Role::kDirect) return;
  // In segments a tool that answered before and waits with records in
  // flight answered them with nothing: looked for often, as the window
  // stalls until then.
  bool segment = in_segments() && answered_;
  std::chrono::microseconds first = after.count() >= 0 ? after : segment ? kSegmentCheck : kStuckCheck;
  std::chrono::microseconds most = segment ? kSegmentCheckMax : kStuckCheck;
  quiet_.start(
      pid(), process_.stdin_inode(), puller(), stdout_kind_ == StdoutKind::kTerminal,
      [weak = weak_from_this()](ToolActivity activity) {
        if (auto self = weak.lock()) self->on_stuck_check(activity);
      },
      first, most);
}

void Instance::on_stuck_check(ToolActivity activity) {
  if (finished_ || in_flight_.empty() || activity != ToolActivity::kWaitingForInput) return late_answer_grace_.reset();
  if (writing_ || stepping_ || settling_) return watch_stuck();
  if (in_late_answer_grace(&Instance::watch_stuck)) return;
  late_answer_grace_.reset();
  // The records left took no answer of the shape (grep's 0 lines): the
  // tool is quiescent, so the segment settles now.
  if (in_segments() && answered_) return on_segment_quiet(activity);
  size_t records = 0;
  for (const auto& batch : in_flight_) records += batch->records;
  const Batch& front = *in_flight_.front();
  std::string message =
      no_answer_message(pool_.tool_facts(), records, false, record_text(front, front.record_count - front.records));
  if (!out_.empty())
    message += "; it printed " + std::to_string(out_.size()) + " bytes that do not end an answer (check -T/-0)";
  spdlog::warn("instance {}: {}: {}; killing it", index_, front.session ? front.session->log_name() : "the learner",
               message);
  fail_in_flight(kExitToolQuit, message);
  kill();
  pool_.answers_missing();
}

void Instance::fail_in_flight(int status, const std::string& message, bool may_retry, const std::string& detail) {
  auto failed = std::move(in_flight_);
  in_flight_.clear();
  in_flight_bytes_ = 0;
  for (auto& batch : failed) {
    if (may_retry && pool_.retry(batch)) continue;
    std::string retried;
    if (batch->deaths > 0)
      retried = "; it died " + std::to_string(batch->deaths + 1) + " times with these records in flight (--retry)";
    if (batch->session)
      batch->session->fail(status, message + retried + detail);
    else if (auto sink = batch->sink.lock())
      sink->on_batch_failed(*batch, status, message + detail);
  }
}

void Instance::remember_answered(const std::shared_ptr<Batch>& batch) {
  if (!batch->session) return;
  if (!recently_answered_.empty() && recently_answered_.back().lock() == batch->session) return;
  recently_answered_.push_back(batch->session);
  if (recently_answered_.size() > kRecentSessions) recently_answered_.pop_front();
}

// More answers than records: the answers' shape is not what the daemon
// thinks, so the calls answered last may have received wrong bytes. They
// fail (those still open), and a learned shape is unlearned.
void Instance::on_unattributed_output(size_t bytes) {
  std::string message = unattributed_output_message(pool_.tool_facts(), bytes);
  spdlog::error("instance {}: {}", index_, message);
  for (auto& weak : recently_answered_)
    if (auto session = weak.lock()) session->fail(kExitToolQuit, message);
  recently_answered_.clear();
  pool_.shape_broken();
}

}  // namespace viasock
