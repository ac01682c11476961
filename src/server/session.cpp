// A session's life (session_state.h): the greeting, the client's request,
// the end of the call in success or failure, and closing. Its input is in
// session_input.cpp, its output in session_output.cpp, attached files in
// session_files.cpp.
#include "server/session.h"

#include <spdlog/spdlog.h>

#include <utility>

#include "common/exit_codes.h"
#include "server/lifecycle.h"
#include "server/pool.h"
#include "server/tool_messages.h"

namespace viasock {

Session::Session(LocalSocket socket, pid_t client, Pool& pool, const RecordFramer& framer, SessionHost& host)
    : socket_(std::move(socket)),
      pool_(pool),
      framer_(framer),
      host_(host),
      client_(client),
      gather_timer_(socket_.get_executor()) {}

void Session::start() {
  control_frame_ = wire::encode_frame(wire::kHello, "viasock " + std::to_string(wire::kProtocolVersion));
  write_more();
  read_more();
}

void Session::set_state(SessionState to) { enter_state(&state_, to, log_name_); }

void Session::set_attach(AttachState to) { enter_state(&attach_, to, log_name_); }

bool Session::input_ended() const {
  return state_ == SessionState::kInputDone || state_ == SessionState::kReplying || state_ == SessionState::kExiting;
}

void Session::on_hello(std::string_view request) {
  if (state_ != SessionState::kGreeting) return;
  if (decode_run_request(request, &call_)) {
    // (An ATTACH before the greeting was answered already: nothing to await.)
    if (call_.attach && attach_ == AttachState::kNone) set_attach(AttachState::kAwaited);
    // Each call's records have its own limit, as -w is its own.
    if (call_.max_record > 0) max_record_ = call_.max_record;
    if (const ToolFailure* failure = host_.tool_failure())
      return fail(failure->status, failure->message, failure->output);
    runs_records_ = true;
    set_state(SessionState::kStreaming);
    name_call(host_.run_started(call_));
    pool_.session_joined(shared_from_this());
    // Stands first in line for the prelude (-P, or what the tool printed
    // before it first waited for input), before any answer.
    auto prelude = std::make_shared<Batch>();
    prelude->session = shared_from_this();
    prelude->records = 1;
    prelude->prelude = true;
    batches_.push_back(prelude);
    pool_.wait_for_prelude(shared_from_this());
    return;
  }
  if (request == wire::kRequestStop) host_.stop_requested();
  if (request == wire::kRequestRestart) host_.restart_requested();
  if (request == wire::kRequestStatus || request == wire::kRequestStop || request == wire::kRequestRestart) {
    out_ = host_.status_json();
    set_state(SessionState::kReplying);
    return write_more();
  }
  spdlog::warn("a client asked for '{}', which this daemon does not serve", request);
  fail(kExitDaemon, "the daemon does not understand the request '" + std::string(request) +
                        "'; is this viasock older than the daemon?");
}

// The log names a call by its number in the daemon and its client's pid,
// which a user can find in their own process list or build log.
void Session::name_call(uint64_t number) {
  log_name_ = "call " + std::to_string(number);
  if (client_ > 0) log_name_ += " (client pid " + std::to_string(client_) + ")";
}

void Session::segment_settled() {
  settle_wanted_ = false;
  // What the settled segment printed last is now in order.
  on_answers();
  if (unsettled_segments_ > 0) --unsettled_segments_;
  finish_if_done();
}

std::shared_ptr<Batch> Session::open_batch() {
  auto batch = std::make_shared<Batch>();
  batch->session = shared_from_this();
  batch->records = 1;
  batches_.push_back(batch);
  last_taken_ = batch;
  return batch;
}

void Session::end_direct_run(int status, const std::string& message) {
  // fail() passes on every batch that is done first, so status 0 ends the
  // call as a success with all of its answers.
  fail(status, message);
}

void Session::fail(int status, const std::string& message, const std::string& tool_output) {
  if (!open()) return;
  // Answers already complete and in order still reach the client.
  while (!batches_.empty() && batches_.front()->done()) {
    add_answers(batches_.front()->answers);
    batches_.front()->passed_on = true;
    batches_.pop_front();
  }
  if (!tool_output.empty()) {
    std::string copy = tool_output;
    add_answers(copy);
  }
  set_state(SessionState::kFailed);
  // What was answered goes out as DATA rather than wait.
  if (attach_ == AttachState::kAwaited) set_attach(AttachState::kNone);
  batches_.clear();
  ready_records_ = 0;
  // The tail of the tool's stderr a message may end with was heard live.
  exit_frame_ = wire::encode_exit(status, heard_tool_stderr_ ? without_stderr_tail(message) : message);
  // Its answers are no longer wanted: an instance holding them reads on.
  if (std::exchange(answers_held_, false)) pool_.read_held_output();
  write_more();
}

void Session::finish_if_done() {
  if (state_ != SessionState::kInputDone && state_ != SessionState::kReplying) return;
  if (ready_records_ == 0 && batches_.empty() && out_.empty() && err_.empty() && queued_.empty() &&
      unsettled_segments_ == 0) {
    // The tool's output is still being checked (stdout_learner.h).
    // (Not an answer to `list`, `stop` or `restart`: no record went in.)
    if (runs_records() && !pool_.may_succeed()) return pool_.hold(shared_from_this());
    exit_frame_ = wire::encode_exit(kExitOk, "");
    set_state(SessionState::kExiting);
    write_more();
  }
}

void Session::close() {
  if (closed()) return;
  set_state(SessionState::kClosed);
  ready_records_ = 0;
  in_.clear();
  out_.clear();
  err_.clear();
  queued_.clear();
  queued_bytes_ = 0;
  data_block_.clear();
  data_sent_ = 0;
  batches_.clear();
  input_file_.reset();
  output_file_.reset();
  boost::system::error_code ignored;
  socket_.shutdown(LocalSocket::shutdown_both, ignored);
  socket_.close(ignored);
  if (std::exchange(answers_held_, false)) pool_.read_held_output();
  host_.session_closed(this);
}

}  // namespace viasock
