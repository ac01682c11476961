#include "client/probe_command.h"

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "client/daemon_spawner.h"
#include "client/status_query.h"
#include "common/error_output.h"
#include "common/exit_codes.h"
#include "common/state_dir.h"
#include "common/unique_fd.h"
#include "common/wire.h"

extern char** environ;

namespace viasock {
namespace {

// Bounds: a probe is for a sample, and must not hang on a tool that does.
constexpr size_t kMaxSample = 64 << 20;
constexpr auto kRunLimit = std::chrono::seconds(60);

// Ctrl-C (or a TERM, or a hang-up) while probing: the children run in
// process groups of their own and would not see it, so the waits below look
// at this, end what they started, and the probe cleans up and dies of the
// same signal.
volatile sig_atomic_t interrupted = 0;

void on_interrupt(int signal_number) { interrupted = signal_number; }

class InterruptWatch {
 public:
  InterruptWatch() {
    struct sigaction action {};
    action.sa_handler = on_interrupt;
    sigemptyset(&action.sa_mask);
    for (size_t i = 0; i < kSignals.size(); ++i) sigaction(kSignals[i], &action, &previous_[i]);
  }
  ~InterruptWatch() {
    for (size_t i = 0; i < kSignals.size(); ++i) sigaction(kSignals[i], &previous_[i], nullptr);
  }
  InterruptWatch(const InterruptWatch&) = delete;
  InterruptWatch& operator=(const InterruptWatch&) = delete;

  // Dies of the signal that interrupted, as if it had not been caught.
  [[noreturn]] static void die() {
    int signal_number = interrupted;
    signal(signal_number, SIG_DFL);
    raise(signal_number);
    _exit(128 + signal_number);
  }

 private:
  static constexpr std::array<int, 3> kSignals = {SIGINT, SIGTERM, SIGHUP};
  std::array<struct sigaction, 3> previous_{};
};

struct Outcome {
  std::string out, err;
  int status = -1;  // as a shell reports it; -1: did not finish in time
};

UniqueFd memory_file(const char* name) { return UniqueFd(memfd_create(name, MFD_CLOEXEC)); }

std::string read_whole(int fd) {
  std::string text;
  lseek(fd, 0, SEEK_SET);
  char buffer[65536];
  ssize_t n;
  while ((n = read(fd, buffer, sizeof buffer)) > 0) text.append(buffer, static_cast<size_t>(n));
  return text;
}

// Runs argv with the sample as stdin and stdout/stderr in memory files,
// killing it (and its process group) past the limit.
Outcome run_with_sample(const std::vector<std::string>& args, int sample_fd) {
  Outcome outcome;
  UniqueFd out = memory_file("stdout"), err = memory_file("stderr");
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, sample_fd, 0);
  posix_spawn_file_actions_adddup2(&actions, out.get(), 1);
  posix_spawn_file_actions_adddup2(&actions, err.get(), 2);
  posix_spawnattr_t attributes;
  posix_spawnattr_init(&attributes);
  posix_spawnattr_setpgroup(&attributes, 0);
  posix_spawnattr_setflags(&attributes, POSIX_SPAWN_SETPGROUP);
  std::vector<char*> argv;
  for (const auto& arg : args) argv.push_back(const_cast<char*>(arg.c_str()));
  argv.push_back(nullptr);
  lseek(sample_fd, 0, SEEK_SET);
  pid_t pid = -1;
  int rc = posix_spawnp(&pid, argv[0], &actions, &attributes, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attributes);
  if (rc != 0) {
    outcome.err = std::string("cannot start: ") + std::strerror(rc);
    return outcome;
  }
  auto deadline = std::chrono::steady_clock::now() + kRunLimit;
  int wait_status = 0;
  while (waitpid(pid, &wait_status, WNOHANG) == 0) {
    if (interrupted || std::chrono::steady_clock::now() > deadline) {
      kill(-pid, SIGKILL);
      waitpid(pid, &wait_status, 0);
      outcome.err = read_whole(err.get());
      return outcome;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  outcome.status = WIFEXITED(wait_status) ? WEXITSTATUS(wait_status) : exit_code_for_wait_status(wait_status);
  outcome.out = read_whole(out.get());
  outcome.err = read_whole(err.get());
  return outcome;
}

std::string shell_quote(const std::string& word) {
  if (!word.empty() &&
      word.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./=:,+@%") ==
          std::string::npos)
    return word;
  std::string quoted = "'";
  for (char c : word) quoted += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return quoted + "'";
}

// What the only daemon in `state_dir` learned (its status JSON); stops it.
nlohmann::json status_and_stop(const std::string& state_dir) {
  std::string sockets = state_dir + "/sockets/";
  std::string name;
  if (DIR* dir = opendir(sockets.c_str())) {
    while (dirent* entry = readdir(dir))
      if (entry->d_name[0] != '.') name = entry->d_name;
    closedir(dir);
  }
  if (name.empty()) return nlohmann::json::object();
  std::vector<std::string> socket = {sockets + name};
  // A daemon may still be learning once the sample's call is over (a tool
  // whose first call was a direct run is then tried on a terminal).
  nlohmann::json status = nlohmann::json::object();
  for (int i = 0; i < 500 && !interrupted; ++i) {
    auto reply = ask_daemons(socket, wire::kRequestStatus, std::chrono::seconds(5))[0];
    status = nlohmann::json::parse(reply.value_or("{}"), nullptr, false);
    if (!status.is_object()) status = nlohmann::json::object();
    if (!reply || status.value("learning_done", false) || status.value("state", "") == "failed") break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ask_daemons(socket, wire::kRequestStop, std::chrono::seconds(5));
  // The daemon drains and exits; wait a little for it, by pid.
  pid_t pid = status.value("pid", 0);
  for (int i = 0; pid > 0 && i < 250 && kill(pid, 0) == 0; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  return status;
}

std::string command_line(const RunOptions& options, const std::vector<std::string>& run_args) {
  std::string line = "viasock run";
  // Appended word by word: `" " + word` trips g++ 12's -Wrestrict false positive.
  auto add = [&line](const std::string& word) {
    line += ' ';
    line += shell_quote(word);
  };
  for (const auto& arg : run_args) add(arg);
  add(options.tool);
  for (const auto& arg : options.args) add(arg);
  return line;
}

int report(const RunOptions& options, const Outcome& direct, const Outcome& served, const nlohmann::json& status,
           const std::vector<std::string>& given) {
  if (served.status != 0 || served.out != direct.out) {
    std::string why = served.status == -1 ? "the call through viasock did not finish within 60 s"
                      : served.status != 0
                          ? "through viasock (status " + std::to_string(served.status) + "): " + served.err
                          : "the output through viasock differs from the direct run's (" +
                                std::to_string(served.out.size()) + " bytes against " +
                                std::to_string(direct.out.size()) + ")";
    while (!why.empty() && why.back() == '\n') why.pop_back();
    for (size_t at; (at = why.find("viasock: error: ")) != std::string::npos;) why.erase(at, 16);
    return print_error(kExitToolQuit, "no command line found for this sample: " + why);
  }
  if (status.value("state", "") == "failed")
    return print_error(kExitToolQuit, "no command line found for this sample: " + status.value("error", std::string()));
  printf("%s through viasock is byte-identical to a direct run on this sample (%zu bytes, status %d).\n",
         options.tool.c_str(), direct.out.size(), direct.status);
  if (status.value("stateful", false)) {
    printf("It keeps state between records, which only learning notices: run it without framing options:\n  %s\n",
           command_line(options, given).c_str());
    return kExitOk;
  }
  if (!status.value("learning_done", false)) {
    printf("Its answers have no shape a framing option describes; viasock serves it one record at a time:\n  %s\n",
           command_line(options, given).c_str());
    return kExitOk;
  }
  std::vector<std::string> learned = given;
  std::string text = status.value("learned", "");
  for (size_t at = 0; !text.empty() && at != std::string::npos;) {
    size_t space = text.find(' ', at);
    learned.push_back(text.substr(at, space == std::string::npos ? std::string::npos : space - at));
    at = space == std::string::npos ? space : space + 1;
  }
  if (learned.empty()) learned.push_back("--pipe");
  printf("Serve it with these options, and no daemon needs to learn them again:\n  %s\n",
         command_line(options, learned).c_str());
  return kExitOk;
}

}  // namespace

int probe_command(const RunOptions& options) {
  InterruptWatch watch;
  UniqueFd sample = memory_file("sample");
  std::string text;
  char buffer[65536];
  ssize_t n;
  while ((n = read(STDIN_FILENO, buffer, sizeof buffer)) > 0 && text.size() <= kMaxSample)
    text.append(buffer, static_cast<size_t>(n));
  if (text.size() > kMaxSample) return print_error(kExitUsage, "the sample is larger than 64 MiB; give a smaller one");
  if (!sample || write(sample.get(), text.data(), text.size()) != static_cast<ssize_t>(text.size()))
    return print_error(kExitDaemon, std::string("cannot keep the sample: ") + std::strerror(errno));

  std::vector<std::string> direct_args = {options.tool};
  direct_args.insert(direct_args.end(), options.args.begin(), options.args.end());
  Outcome direct = run_with_sample(direct_args, sample.get());
  if (interrupted) InterruptWatch::die();
  if (direct.status == -1) return print_error(kExitToolQuit, "the tool did not finish within 60 s on this sample");

  std::string pattern = temp_dir() + "/viasock-probe-XXXXXX";
  if (!mkdtemp(pattern.data()))
    return print_error(kExitDaemon, std::string("cannot create a directory: ") + std::strerror(errno));
  std::string state_dir = pattern + "/state";
  std::vector<std::string> given = identity_args(options);
  std::vector<std::string> run_args = {self_executable(), "run", "--state-dir", state_dir, "-W", "120"};
  run_args.insert(run_args.end(), given.begin(), given.end());
  run_args.push_back("--");
  run_args.insert(run_args.end(), direct_args.begin(), direct_args.end());
  Outcome served = run_with_sample(run_args, sample.get());
  // Also when interrupted: the daemon is stopped and its directory goes.
  nlohmann::json status = status_and_stop(state_dir);
  std::error_code ignored;
  std::filesystem::remove_all(pattern, ignored);
  if (interrupted) InterruptWatch::die();
  return report(options, direct, served, status, given);
}

}  // namespace viasock
