#include "core_harness.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <spdlog/spdlog.h>

#include <catch2/catch.hpp>
#include <algorithm>
#include <cerrno>
#include <cstring>

#include "common/exit_codes.h"

namespace viasock::testing {
namespace {

void set_non_blocking(int fd) { fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK); }

// Writes what the descriptor takes now; false once the reader is gone.
bool write_some(int fd, std::string* pending) {
  while (!pending->empty()) {
    ssize_t n = ::write(fd, pending->data(), pending->size());
    if (n < 0) return errno == EAGAIN || errno == EINTR;
    pending->erase(0, static_cast<size_t>(n));
  }
  return true;
}

// What the instance holds for a FakeTool, as it would hold a ChildProcess.
class FakeProcess final : public ToolProcess {
 public:
  explicit FakeProcess(std::shared_ptr<FakeTool> tool) : tool_(std::move(tool)) {}
  ~FakeProcess() override {
    if (!reaped_) tool_->kill();
  }
  bool spawn(const ToolCommand&, StdoutKind stdout_kind, int* exit_code, std::string* error) override {
    if (tool_->spawn(stdout_kind, &streams_, error)) return true;
    *exit_code = kExitDaemon;
    return false;
  }
  Streams take_streams() override { return std::move(streams_); }
  pid_t pid() const override { return 1000000 + tool_->number(); }
  ToolActivity activity() const override { return tool_->activity(); }
  double cpu_seconds() const override { return tool_->cpu_seconds(); }
  void start_up_done() override {}
  void kill_group() override { tool_->kill(); }
  bool try_reap() override { return reaped_ = reaped_ || tool_->exited(); }
  bool reaped() const override { return reaped_; }
  int wait_status() const override { return tool_->wait_status(); }

 private:
  std::shared_ptr<FakeTool> tool_;
  Streams streams_;
  bool reaped_ = false;
};

}  // namespace

// ---- FakeTool

bool FakeTool::spawn(StdoutKind stdout_kind, ToolProcess::Streams* streams, std::string* error) {
  if (!make_pipe(&stdin_, &streams->in) || !make_pipe(&streams->out, &stdout_) || !make_pipe(&streams->err, &stderr_)) {
    *error = std::string("cannot create a pipe: ") + std::strerror(errno);
    return false;
  }
  set_non_blocking(stdin_.get());
  set_non_blocking(stdout_.get());
  set_non_blocking(stderr_.get());
  // As large as the daemon makes a real tool's (child_process.cpp).
  fcntl(stdout_.get(), F_SETPIPE_SZ, 1 << 20);
  stdout_kind_ = stdout_kind;
  if (stdout_kind == StdoutKind::kTerminal) script_.buffered = false;
  started_at_ = DaemonClock::now();
  busy_until_ = started_at_ + script_.load;
  return true;
}

ToolActivity FakeTool::activity() const {
  if (exited_) return ToolActivity::kGone;
  if (!loaded_ || hung_ || DaemonClock::now() < busy_until_ || !pending_.empty()) return ToolActivity::kBusy;
  int unread = 0;
  if (ioctl(stdin_.get(), FIONREAD, &unread) == 0 && unread > 0) return ToolActivity::kBusy;
  // A complete line it has read but not yet worked on.
  if (partial_.find('\n') != std::string::npos) return ToolActivity::kBusy;
  return ToolActivity::kWaitingForInput;
}

void FakeTool::print(std::string_view bytes) {
  buffer_ += bytes;
  if (!script_.buffered || buffer_.size() >= 4096) flush();
}

void FakeTool::print_now(std::string_view bytes) {
  buffer_ += bytes;
  flush();
}

void FakeTool::flush() {
  pending_ += std::exchange(buffer_, {});
  if (stdout_ && !write_some(stdout_.get(), &pending_)) pending_.clear();  // EPIPE: nobody reads
}

void FakeTool::eprint(std::string_view bytes) {
  std::string copy(bytes);
  if (stderr_) write_some(stderr_.get(), &copy);
}

void FakeTool::exit(int status) {
  if (exited_) return;
  flush();
  exit_status_ = status;
  if (pending_.empty()) finish(status << 8);
}

void FakeTool::kill() {
  if (exited_) return;
  killed_ = true;
  pending_.clear();
  finish(9);  // as SIGKILL leaves it for wait(2)
}

void FakeTool::finish(int wait_status) {
  exited_ = true;
  wait_status_ = wait_status;
  stdin_.reset();
  stdout_.reset();
  stderr_.reset();
}

void FakeTool::busy_for(milliseconds time) { busy_until_ = DaemonClock::now() + time; }

bool FakeTool::step() {
  if (exited_ || !stdout_) return false;
  bool progress = false;
  if (!pending_.empty()) {
    size_t before = pending_.size();
    if (!write_some(stdout_.get(), &pending_)) pending_.clear();
    progress = pending_.size() != before;
    if (pending_.empty() && exit_status_ >= 0) {
      finish(exit_status_ << 8);
      return true;
    }
    if (!pending_.empty()) return progress;  // blocked on its stdout, as a real tool would be
  }
  if (DaemonClock::now() < busy_until_ || hung_) return progress;
  if (!loaded_) {
    loaded_ = true;
    if (!script_.prelude.empty()) print(script_.prelude);
    if (script_.on_start) script_.on_start(*this);
    return true;
  }
  char chunk[65536];
  ssize_t n;
  while ((n = ::read(stdin_.get(), chunk, sizeof chunk)) > 0) {
    partial_.append(chunk, static_cast<size_t>(n));
    progress = true;
  }
  bool eof = n == 0;
  size_t end;
  while (!exited_ && !hung_ && DaemonClock::now() >= busy_until_ && (end = partial_.find('\n')) != std::string::npos) {
    std::string line = partial_.substr(0, end);
    partial_.erase(0, end + 1);
    ++lines_;
    cpu_ += script_.cpu_per_line;
    if (script_.on_line)
      script_.on_line(*this, line);
    else
      print(line + "\n");
    progress = true;
  }
  if (eof && !exited_ && !hung_ && DaemonClock::now() >= busy_until_ && partial_.find('\n') == std::string::npos) {
    if (!partial_.empty() && script_.on_line) script_.on_line(*this, std::exchange(partial_, {}));
    if (script_.on_eof)
      script_.on_eof(*this);
    else
      exit(0);
    progress = true;
  }
  return progress;
}

// ---- FakeClient

FakeClient::FakeClient(asio::io_context& io, CallOptions options) : daemon_end_(io) {
  int fds[2];
  REQUIRE(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) == 0);
  daemon_end_.assign(asio::local::stream_protocol(), fds[0]);
  fd_.reset(fds[1]);
  set_non_blocking(fd_.get());
  pending_ = wire::encode_frame(wire::kHello, encode_run_request(options));
  write_pending();
}

void FakeClient::write_pending() {
  if (fd_ && !write_some(fd_.get(), &pending_)) pending_.clear();
}

void FakeClient::send(std::string_view bytes) {
  pending_ += wire::encode_frame(wire::kData, bytes);
  write_pending();
}

void FakeClient::end_input() {
  pending_ += wire::encode_frame(wire::kEndInput, "");
  write_pending();
}

void FakeClient::vanish() {
  fd_.reset();
  closed_ = true;
}

bool FakeClient::step() {
  if (!fd_) return false;
  bool progress = !pending_.empty();
  write_pending();
  if (reading_stopped_) return progress;
  char chunk[65536];
  ssize_t n;
  while ((n = ::read(fd_.get(), chunk, sizeof chunk)) > 0) {
    progress = true;
    bool fine = decoder_.feed(std::string_view(chunk, static_cast<size_t>(n)),
                              [&](wire::FrameType type, std::string_view bytes) {
                                if (type == wire::kData) out_ += bytes;
                                if (type == wire::kStderr) err_ += bytes;
                                if (type == wire::kExit) {
                                  int status = -1;
                                  wire::decode_exit(bytes, &status, &message_);
                                  status_ = status;
                                }
                              });
    REQUIRE(fine);
  }
  if (n == 0) {
    fd_.reset();
    closed_ = true;
    progress = true;
  }
  return progress;
}

// ---- Core

Core::Core(Script script, std::function<void(PoolConfig&)> configure)
    : script_(std::move(script)), framer_(make_framer(RecordFormat{})) {
  // As in the daemon: a tool that closed its stdin is an error to handle,
  // not a signal that ends the process.
  signal(SIGPIPE, SIG_IGN);
  spdlog::set_level(spdlog::level::warn);
  PoolConfig config;
  config.command.path = "/fake/tool";
  config.command.argv = {"tool"};
  config.command.name = "tool";
  config.learn = true;
  config.identity_current = [] { return true; };
  config.launcher = [this]() -> std::unique_ptr<ToolProcess> {
    auto tool = std::make_shared<FakeTool>(script_, static_cast<int>(tools_.size()));
    tools_.push_back(tool);
    return std::make_unique<FakeProcess>(std::move(tool));
  };
  if (configure) configure(config);
  pool_ = std::make_unique<Pool>(io_, std::move(config), [this](ToolFailure failure) { fatal_ = std::move(failure); });
  int status = 0;
  std::string error;
  REQUIRE(pool_->start(&status, &error));
}

Core::~Core() {
  for (auto& session : std::set(sessions_)) session->fail(kExitDaemon, "the test is over");
  sessions_.clear();
  pool_.reset();
  clients_.clear();
}

FakeClient& Core::call(CallOptions options) {
  clients_.push_back(std::make_unique<FakeClient>(io_, options));
  FakeClient& client = *clients_.back();
  auto session = std::make_shared<Session>(client.take_daemon_end(), 4242, *pool_, *framer_, *this);
  sessions_.insert(session);
  calls_made_.push_back(session);
  session->start();
  settle();
  return client;
}

FakeClient& Core::call_with(std::string_view input, CallOptions options, milliseconds limit) {
  FakeClient& client = call(options);
  client.send(input);
  client.end_input();
  run_until([&] { return client.done(); }, limit);
  return client;
}

// As the daemon does (Daemon::session_closed): the pool hears of it at
// once; the daemon lets go of the call once its close() has returned.
void Core::session_closed(Session* session) {
  pool_->session_ended(session);
  asio::post(io_, [this, keep = session->shared_from_this()] { sessions_.erase(keep); });
}

uint64_t Core::run_started(const CallOptions& call) {
  pool_->raise_max(call.instances);
  return ++calls_;
}

int Core::alive() const {
  int count = 0;
  for (const auto& tool : tools_) count += !tool->exited();
  return count;
}

void Core::stop() {
  pool_->stop([this] { stopped_ = true; });
}

void Core::settle() {
  for (int round = 0; round < 100000; ++round) {
    io_.restart();
    bool progress = io_.poll() > 0;
    for (const auto& tool : tools_) progress |= tool->step();
    for (const auto& client : clients_) progress |= client->step();
    // What SIGCHLD does in the daemon.
    size_t exits = 0;
    for (const auto& tool : tools_) exits += tool->exited();
    if (exits != exits_seen_) {
      exits_seen_ = exits;
      pool_->reap();
      progress = true;
    }
    peak_alive_ = std::max(peak_alive_, alive());
    if (!progress) return;
  }
  FAIL("the core kept busy for 100000 rounds without time passing");
}

void Core::run_for(milliseconds time) {
  settle();
  for (milliseconds passed{0}; passed < time; passed += milliseconds(1)) {
    clock_.advance(milliseconds(1));
    settle();
  }
}

bool Core::run_until(const std::function<bool()>& done, milliseconds limit) {
  settle();
  for (milliseconds passed{0}; !done(); passed += milliseconds(1)) {
    if (passed >= limit) return false;
    clock_.advance(milliseconds(1));
    settle();
  }
  return true;
}

}  // namespace viasock::testing
