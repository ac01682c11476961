#include "server/instance.h"

#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>

#include "common/exit_codes.h"
#include "server/clock.h"
#include "server/pool.h"
#include "server/session.h"

namespace viasock {
namespace {

// Sessions remembered for output that answers no record.
constexpr size_t kRecentSessions = 16;

}  // namespace

Instance::Instance(asio::io_context& io, Pool& pool, int index, StdoutKind stdout_kind, Role role)
    : io_(io),
      pool_(pool),
      index_(index),
      stdout_kind_(stdout_kind),
      role_(role),
      process_(pool.launch()),
      stdin_(io),
      stdout_(io),
      stderr_(io),
      timeout_timer_(io),
      exit_timer_(io),
      answer_timer_(io),
      quiet_(io),
      schedule_(DaemonClock::seconds()) {}

Instance::~Instance() = default;

// Learning instances, and those whose prelude is what they print at start,
// take records only once they first wait for input.
bool Instance::learns() const { return role_ == Role::kCandidate || pool_.learns() || !pool_.prelude_given(); }
bool Instance::lock_step() const { return role_ == Role::kCandidate || (role_ == Role::kServing && pool_.lock_step()); }

bool Instance::start(int* status, std::string* error) {
  if (!process_->spawn(pool_.command(), stdout_kind_, status, error)) return false;
  ToolProcess::Streams streams = process_->take_streams();
  stdin_.assign(streams.in.release());
  stdout_.assign(streams.out.release());
  stderr_.assign(streams.err.release());
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
  quiet_.start(observer(), puller(), stdout_kind_ == StdoutKind::kTerminal,
               [weak = weak_from_this()](ToolActivity activity) {
                 if (auto self = weak.lock()) self->on_start_up_quiet(activity);
               });
}

void Instance::on_start_up_quiet(ToolActivity activity) {
  if (finished() || activity == ToolActivity::kGone) return;
  process_->start_up_done();
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
  loaded_ = true;
  if (life_ == InstanceLife::kStarting) enter(InstanceLife::kReady);
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
  return role_ == Role::kServing && schedule_.role() == sched::Role::kActive && (loaded_ || answered_) &&
         !killed_by_us_ && life_ < InstanceLife::kRetiring && !stdout_closed_;
}

void Instance::pump() {
  // A killed instance takes no new work: it would only fail with it. Its
  // replacement, started when it is gone, pulls what waits in the pool.
  if (writing_ || life_ >= InstanceLife::kClosing || killed_by_us_ || stdout_closed_ || process_->reaped()) return;
  if (life_ == InstanceLife::kRetiring) return close_input_when_idle();
  if (((learns() || wait_for_load_) && !loaded_) || stepping_) return;
  if (role_ == Role::kDirect) return pump_direct();
  // Records wait until the prelude (-P) is complete: written earlier, their
  // answers could be taken for part of it.
  if (prelude_left_ > 0 && !loaded_) return;
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
    batch->sent_at = DaemonClock::seconds();
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
    if (auto owner = batch->session.lock()) open_segment(owner);
    took_in_segment(batch);
  }
  batch->sent_at = DaemonClock::seconds();
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
  if (in_flight_.size() == 1) last_progress_ = DaemonClock::now();
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
                        if (self->life_ < InstanceLife::kClosing) self->enter(InstanceLife::kClosing);
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

void Instance::fail_in_flight(int status, const std::string& message, bool may_retry, const std::string& detail) {
  auto failed = std::move(in_flight_);
  in_flight_.clear();
  in_flight_bytes_ = 0;
  for (auto& batch : failed) {
    if (may_retry && pool_.retry(batch)) continue;
    std::string retried;
    if (batch->deaths > 0)
      retried = "; it died " + std::to_string(batch->deaths + 1) + " times with these records in flight (--retry)";
    if (auto session = batch->session.lock())
      session->fail(status, message + retried + detail);
    else if (auto sink = batch->sink.lock())
      sink->on_batch_failed(*batch, status, message + detail);
  }
}

void Instance::remember_answered(const std::shared_ptr<Batch>& batch) {
  std::shared_ptr<Session> session = batch->session.lock();
  if (!session) return;
  if (!recently_answered_.empty() && recently_answered_.back().lock() == session) return;
  recently_answered_.push_back(session);
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
