#include "server/server_main.h"

#include <malloc.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <spdlog/sinks/rotating_file_sink.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include "common/state_dir.h"
#include "server/daemon.h"

namespace viasock {
namespace {

constexpr size_t kLogBytes = 1 << 20;
constexpr size_t kLogFiles = StateDir::kRotatedLogs;

// Every log file, the rotated ones too, is readable by its owner only: it
// holds command lines and the tool's error messages. (A umask would do it
// too, but the tool must inherit the caller's.)
spdlog::file_event_handlers private_files() {
  spdlog::file_event_handlers handlers;
  handlers.after_open = [](const spdlog::filename_t&, std::FILE* file) { fchmod(fileno(file), 0600); };
  return handlers;
}

// Every client costs a descriptor: take all the kernel allows us (the soft
// limit is often 1024 while the hard one is far higher).
void raise_descriptor_limit() {
  rlimit limit;
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0 || limit.rlim_cur >= limit.rlim_max) return;
  rlim_t wanted = limit.rlim_max;
  limit.rlim_cur = wanted;
  if (setrlimit(RLIMIT_NOFILE, &limit) != 0) spdlog::warn("cannot raise the descriptor limit to {}", wanted);
}

// A large record's buffers are mapped on their own, so that freeing them
// gives the memory back at once. glibc's own threshold rises with every
// large block freed (up to 32 MiB); blocks under it come from the heap,
// where freed memory stays resident and a daemon that served one big record
// would keep a multiple of it. The buffers of a stream stay well under this.
constexpr int kMapThreshold = 8 << 20;
// Freed heap at its top stays up to this much while calls come and go
// (setting the map threshold also fixed glibc's trim threshold at 128 KiB):
// otherwise every call's buffers were given back when it ended and faulted
// in again, page by page, by the next. Daemon::trim_when_idle gives it all
// back once no call has come for a moment.
constexpr int kTrimThreshold = 32 << 20;

void set_up_logging(const std::string& log_file) {
  std::shared_ptr<spdlog::logger> logger;
  try {
    if (log_file.empty())
      logger = spdlog::stderr_logger_st("viasock");
    else
      logger = spdlog::rotating_logger_st("viasock", log_file, kLogBytes, kLogFiles, false, private_files());
  } catch (const spdlog::spdlog_ex& error) {
    logger = spdlog::stderr_logger_st("viasock");
    logger->warn("cannot log to {}: {}", log_file, error.what());
  }
  logger->set_pattern("[%Y-%m-%d %H:%M:%S.%e] [%P] [%l] %v");
  // Lines reach the log at once: it is what users read when a tool fails.
  logger->flush_on(spdlog::level::info);
  spdlog::set_default_logger(logger);
}

}  // namespace

int server_command(const RunOptions& options, const std::string& socket_path, const std::string& state_dir,
                   int ready_fd) {
  // Writes to a tool that died must fail with EPIPE, not kill the daemon.
  signal(SIGPIPE, SIG_IGN);
  std::string log_file = options.log_file;
  if (log_file.empty() && !state_dir.empty()) {
    size_t slash = socket_path.rfind('/');
    log_file = state_dir + "/logs/" + socket_path.substr(slash == std::string::npos ? 0 : slash + 1) + ".log";
  }
  set_up_logging(log_file);
  raise_descriptor_limit();
  mallopt(M_MMAP_THRESHOLD, kMapThreshold);
  mallopt(M_TRIM_THRESHOLD, kTrimThreshold);
  DaemonConfig config;
  config.options = options;
  config.socket_path = socket_path;
  config.state_dir = state_dir;
  config.ready_fd = ready_fd;
  return Daemon(std::move(config)).run();
}

}  // namespace viasock
