#include "client/daemon_spawner.h"

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "common/close_descriptors.h"
#include "common/exit_codes.h"
#include "common/standard_streams.h"

namespace viasock {
namespace {

// The daemon's descriptor for reporting readiness (see server_main.cpp).
constexpr int kReadyFd = 3;

std::vector<std::string> server_argv(const RunOptions& options, const StateDir& state, const std::string& id) {
  std::vector<std::string> argv = {self_executable(), "server",     "--state-dir",
                                   state.root(),      "--ready-fd", std::to_string(kReadyFd)};
  for (auto& arg : behaviour_args(options)) argv.push_back(std::move(arg));
  // Operational, not part of the identity: the daemon enforces the limit of
  // the call that started it.
  argv.insert(argv.end(), {"--max-record", std::to_string(options.max_record)});
  if (!options.log_file.empty()) argv.insert(argv.end(), {"-l", options.log_file});
  argv.insert(argv.end(), {"--", state.socket_path(id), options.tool});
  argv.insert(argv.end(), options.args.begin(), options.args.end());
  return argv;
}

void append(char* buffer, size_t size, const char* text) {
  size_t used = strlen(buffer);
  while (*text && used + 1 < size) buffer[used++] = *text++;
  buffer[used] = '\0';
}

// Tells the waiting client why exec failed ("Argument list too long" when
// the tool's arguments do not fit), with no allocation (runs after fork).
void report_exec_failure(const char* program, int error) {
  char message[4608] = "error 125\ncannot execute the viasock daemon '";
  append(message, sizeof message, program);
  append(message, sizeof message, "': ");
  append(message, sizeof message, strerror(error));
  if (error == E2BIG) append(message, sizeof message, " (the tool's arguments are too long for one command line)");
  append(message, sizeof message, "\n");
  (void)!write(kReadyFd, message, strlen(message));
}

std::string read_all(int fd) {
  std::string text;
  char buffer[4096];
  while (true) {
    ssize_t n = read(fd, buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return text;
    text.append(buffer, static_cast<size_t>(n));
  }
}

// The last lines of the daemon's log, for a daemon that died before it could
// explain itself (Bazel's client does the same).
std::string log_tail(const StateDir& state, const std::string& id) {
  std::string path = state.log_path(id);
  UniqueFd fd(open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
  if (!fd) return "";
  off_t size = lseek(fd.get(), 0, SEEK_END);
  off_t from = size > 2048 ? size - 2048 : 0;
  lseek(fd.get(), from, SEEK_SET);
  return read_all(fd.get());
}

// Interprets what the daemon wrote to its readiness pipe: "ready\n", or
// "error CODE\n" followed by the message.
SpawnResult parse_report(const std::string& report, const StateDir& state, const std::string& id) {
  if (report == "ready\n") return {true, 0, ""};
  if (report.starts_with("error ")) {
    size_t nl = report.find('\n');
    int code = std::atoi(report.c_str() + 6);
    return {false, code ? code : kExitDaemon, nl == std::string::npos ? "" : report.substr(nl + 1)};
  }
  return {false, kExitDaemon,
          "the daemon exited while starting; the end of " + state.log_path(id) + ":\n" + log_tail(state, id)};
}

}  // namespace

std::string self_executable() {
  char path[4096];
  ssize_t n = readlink("/proc/self/exe", path, sizeof path - 1);
  return n > 0 ? std::string(path, static_cast<size_t>(n)) : "viasock";
}

SpawnResult spawn_daemon(const RunOptions& options, const StateDir& state, const std::string& id) {
  // Descriptors 0-2 must be open before we create pipes, or a pipe could land
  // on them and be overwritten by the dup2 calls in the child. main() saw to
  // that; this keeps spawn_daemon safe for any caller.
  guard_standard_streams();
  std::vector<std::string> args = server_argv(options, state, id);
  std::vector<char*> argv;
  for (auto& arg : args) argv.push_back(arg.data());
  argv.push_back(nullptr);

  int ready[2];
  if (pipe2(ready, O_CLOEXEC) != 0) return {false, kExitDaemon, std::string("pipe: ") + std::strerror(errno)};
  UniqueFd ready_read(ready[0]), ready_write(ready[1]);
  UniqueFd devnull(open("/dev/null", O_RDWR | O_CLOEXEC));
  std::string log_name = id + ".log";
  UniqueFd log(openat(state.logs_fd(), log_name.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600));
  if (!devnull || !log) return {false, kExitDaemon, "cannot open " + state.log_path(id) + ": " + std::strerror(errno)};

  pid_t child = fork();
  if (child < 0) return {false, kExitDaemon, std::string("fork: ") + std::strerror(errno)};
  if (child == 0) {
    // Own session, so that Ctrl-C in the caller's terminal does not reach the
    // daemon; a second fork, so that the daemon is nobody's child here and
    // never becomes our zombie. Only async-signal-safe calls from here on.
    setsid();
    if (fork() != 0) _exit(0);
    dup2(devnull.get(), 0);
    dup2(devnull.get(), 1);
    dup2(log.get(), 2);
    if (ready_write.get() == kReadyFd)
      fcntl(kReadyFd, F_SETFD, 0);  // dup2 onto itself would keep close-on-exec
    else
      dup2(ready_write.get(), kReadyFd);
    // Not even descriptors the caller inherited (a make jobserver, the pipe
    // of a $(...) substitution) may stay open in a long-lived daemon.
    close_descriptors_from(kReadyFd + 1);
    execv(argv[0], argv.data());
    report_exec_failure(argv[0], errno);
    _exit(kExitDaemon);
  }
  ready_write.reset();
  while (waitpid(child, nullptr, 0) < 0 && errno == EINTR) {
  }
  return parse_report(read_all(ready_read.get()), state, id);
}

}  // namespace viasock
