// An instance's tool stderr: read as it comes, and drained before answers
// are routed, each line to the caller it concerns (see route_stderr_line).
#include <unistd.h>

#include <cerrno>

#include "server/instance.h"
#include "server/pool.h"
#include "server/session.h"

namespace viasock {

// Every read of the tool's stderr is ours, made when it is readable or
// before answers are routed (drain_stderr), as with its stdout: an Asio read
// may read ahead and complete later, and a warning read that way would find
// its answer already passed on, its caller gone.
void Instance::read_stderr() {
  stderr_.async_wait(asio::posix::descriptor_base::wait_read,
                     [self = shared_from_this()](const boost::system::error_code& error) {
                       if (!error && self->drain_stderr()) self->read_stderr();
                     });
}

// Reads what is already in the stderr pipe, so that a warning the tool wrote
// before an answer goes to that answer's caller. False once the pipe is at
// its end (or broken): waiting for it to become readable would then never
// stop firing.
bool Instance::drain_stderr() {
  if (!stderr_.is_open()) return false;
  char buffer[4096];
  for (int i = 0; i < 16; ++i) {
    ssize_t n = ::read(stderr_.native_handle(), buffer, sizeof buffer);
    if (n > 0) {
      on_stderr(std::string_view(buffer, static_cast<size_t>(n)));
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    return n < 0 && errno == EAGAIN;
  }
  return true;
}

void Instance::on_stderr(std::string_view bytes) {
  // From now on the instance works for one caller at a time (pump()).
  if (loaded_) talkative_ = true;
  stderr_lines_.feed(bytes, pid(), [this](std::string_view line) { route_stderr_line(line); });
}

// A line goes to the caller whose records are in flight. Which record of
// several a line is about cannot be known from two pipes read at different
// times, so once a tool writes to stderr its instance has the records of
// only one caller in flight at a time (pump()), and every line reaches the
// right caller. Before the tool is ready, lines go to the callers waiting
// for it; with nothing in flight, only to the log.
void Instance::route_stderr_line(std::string_view line) {
  if (!in_flight_.empty()) {
    Batch& batch = *in_flight_.front();
    if (auto session = batch.session.lock()) return session->on_tool_stderr(line);
    if (auto sink = batch.sink.lock()) return sink->on_batch_stderr(batch, line);
  }
  if (!loaded_) pool_.start_up_stderr(*this, line);
}

}  // namespace viasock
