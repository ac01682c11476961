// One running instance of the tool: writes batches to its stdin, cuts its
// stdout into answers for the batches in flight (first in, first out), logs
// its stderr, and notices when it dies or stops answering (-w).
#pragma once

#include <chrono>
#include <deque>
#include <memory>
#include <string>

#include "server/asio.h"
#include "server/batch.h"
#include "server/scheduler.h"
#include "server/tool_process.h"

namespace viasock {

class Pool;

class Instance : public std::enable_shared_from_this<Instance> {
 public:
  Instance(asio::io_context& io, Pool& pool, int index);
  ~Instance();
  Instance(const Instance&) = delete;
  Instance& operator=(const Instance&) = delete;

  bool start(int* status, std::string* error);
  // Pulls batches from the pool while the window has room.
  void pump();
  // Reaps the process if it exited (after SIGCHLD).
  void reap();
  // Shutdown: no more input; the tool should exit on its own.
  void close_input();
  void kill();
  bool finished() const { return finished_; }
  pid_t pid() const { return pid_; }
  int index() const { return index_; }
  // Its part in the pool's scheduling (scheduler.h).
  sched::InstanceSchedule& schedule() { return schedule_; }
  const sched::InstanceSchedule& schedule() const { return schedule_; }

 private:
  void read_stdout();
  void on_stdout(const boost::system::error_code& error, size_t size);
  void process_output();
  void take_answers(Batch& batch, size_t begin, size_t* pos);
  void reserve_for_answer(size_t more);
  size_t take_prelude(std::string_view data);
  void read_stderr();
  void log_stderr(std::string_view bytes);
  void arm_timeout();
  void on_timeout();
  void check_exit();
  void finish();
  std::string stderr_tail() const;

  asio::io_context& io_;
  Pool& pool_;
  int index_;
  pid_t pid_ = -1;
  asio::posix::stream_descriptor stdin_, stdout_, stderr_;
  asio::steady_timer timeout_timer_, exit_timer_;

  std::deque<std::shared_ptr<Batch>> in_flight_;
  size_t in_flight_bytes_ = 0;
  std::string write_buffer_;
  bool writing_ = false, input_closed_ = false;

  std::unique_ptr<char[]> read_buffer_;
  std::string out_;  // tool output not yet routed
  size_t out_resume_ = 0;
  std::string prelude_;
  int prelude_left_ = 0;
  bool prelude_in_lines_ = false;
  std::chrono::steady_clock::time_point last_progress_;

  std::string stderr_buffer_, stderr_line_, stderr_tail_;
  bool stdout_closed_ = false, reaped_ = false, finished_ = false;
  bool answered_ = false, killed_by_us_ = false, timeout_armed_ = false;
  int wait_status_ = 0;
  sched::InstanceSchedule schedule_;
};

}  // namespace viasock
