#include "server/start_tracker.h"

#include <fcntl.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/openat2.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <spdlog/spdlog.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <cstring>

#include "common/descriptor_passing.h"

// Linux 6.6: the tool's wait for an answer hands the CPU straight to the
// answering thread and back, instead of two wake-ups through the scheduler.
#ifndef SECCOMP_IOCTL_NOTIF_SET_FLAGS
#define SECCOMP_IOCTL_NOTIF_SET_FLAGS SECCOMP_IOW(4, __u64)
#define SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP 1UL
#endif

namespace viasock {
namespace {

// Opens for reading and execs say what the tool reads; renames and opens
// for writing, what it writes itself. Opens of directories and O_PATH are
// let through (a module search lists many directories).
// Every other call, and every call of another architecture (x32 or i386
// numbers mean other calls), is allowed without a word: each notification
// costs the tool a round trip to the daemon.
constexpr uint32_t kNoFile = O_DIRECTORY | O_PATH;
constexpr sock_filter kFilter[] = {
    /* 0 */ BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, arch)),
    /* 1 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0),
    /* 2 */ BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    /* 3 */ BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, nr)),
    /* 4 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_open, 9, 0),     // to 14
    /* 5 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_openat, 10, 0),  // to 16
    /* 6 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_openat2, 6, 0),  // flags in memory: to 13
    /* 7 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_execve, 5, 0),
    /* 8 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_execveat, 4, 0),
    /* 9 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_rename, 3, 0),
    /* 10 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_renameat, 2, 0),
    /* 11 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_renameat2, 1, 0),
    /* 12 */ BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    /* 13 */ BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_USER_NOTIF),
    /* 14 */ BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, args[1])),  // open's flags (low word)
    /* 15 */ BPF_JUMP(BPF_JMP | BPF_JA | BPF_K, 1, 0, 0),
    /* 16 */ BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, args[2])),  // openat's flags (low word)
    /* 17 */ BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, kNoFile, 1, 0),
    /* 18 */ BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_USER_NOTIF),
    /* 19 */ BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
};

int install_filter() {
  sock_fprog program{static_cast<unsigned short>(sizeof kFilter / sizeof kFilter[0]),
                     const_cast<sock_filter*>(kFilter)};
  // SPEC_ALLOW: a filter forces the speculative store bypass mitigation on
  // the tool for its life on some kernels, which slows it; this filter
  // guards nothing, so the tool keeps the machine's setting.
  return static_cast<int>(syscall(__NR_seccomp, SECCOMP_SET_MODE_FILTER,
                                  SECCOMP_FILTER_FLAG_NEW_LISTENER | SECCOMP_FILTER_FLAG_SPEC_ALLOW, &program));
}

// Reads a NUL-terminated string from the tracee, a page at a time (a read
// across an unmapped page fails as a whole).
bool read_tracee_string(pid_t pid, uint64_t address, std::string* out) {
  out->clear();
  constexpr uint64_t kPage = 4096;
  char buffer[kPage];
  while (out->size() < PATH_MAX) {
    size_t chunk = kPage - address % kPage;
    iovec local{buffer, chunk}, remote{reinterpret_cast<void*>(address), chunk};
    ssize_t n = process_vm_readv(pid, &local, 1, &remote, 1, 0);
    if (n <= 0) return false;
    const char* end = static_cast<const char*>(memchr(buffer, '\0', static_cast<size_t>(n)));
    out->append(buffer, end ? static_cast<size_t>(end - buffer) : static_cast<size_t>(n));
    if (end) return true;
    address += static_cast<uint64_t>(n);
  }
  return false;
}

std::string read_link(const std::string& path) {
  char target[PATH_MAX];
  ssize_t n = readlink(path.c_str(), target, sizeof target);
  return n > 0 ? std::string(target, static_cast<size_t>(n)) : std::string();
}

TrackedCall tracked_call(const seccomp_notif& request) {
  const seccomp_data& call = request.data;
  TrackedCall result;
  int dir = AT_FDCWD;
  uint64_t path_at = call.args[0], flags = 0;
  if (call.nr == __NR_open) {
    flags = call.args[1];
  } else if (call.nr == __NR_rename) {
    path_at = call.args[1];
    result.written = true;
  } else if (call.nr == __NR_renameat || call.nr == __NR_renameat2) {
    dir = static_cast<int>(call.args[2]);
    path_at = call.args[3];
    result.written = true;
  } else if (call.nr == __NR_openat || call.nr == __NR_openat2 || call.nr == __NR_execveat) {
    dir = static_cast<int>(call.args[0]);
    path_at = call.args[1];
    if (call.nr == __NR_openat) flags = call.args[2];
    open_how how{};
    iovec local{&how.flags, sizeof how.flags}, remote{reinterpret_cast<void*>(call.args[2]), sizeof how.flags};
    if (call.nr == __NR_openat2 && process_vm_readv(static_cast<pid_t>(request.pid), &local, 1, &remote, 1, 0) > 0)
      flags = how.flags;
  }
  if (flags & O_PATH) return result;
  // Opened for writing or for reading and writing counts as written: the
  // tool's own writes must not make the daemon stale.
  if ((flags & O_ACCMODE) != O_RDONLY) result.written = true;
  std::string path;
  if (!read_tracee_string(static_cast<pid_t>(request.pid), path_at, &path)) return result;
  std::string proc = "/proc/" + std::to_string(request.pid);
  if (path.empty()) {
    if (call.nr == __NR_execveat) result.path = read_link(proc + "/fd/" + std::to_string(dir));
    return result;
  }
  if (path.front() == '/') {
    result.path = absolute_path("/", path);
    return result;
  }
  std::string base = read_link(dir == AT_FDCWD ? proc + "/cwd" : proc + "/fd/" + std::to_string(dir));
  if (!base.empty()) result.path = absolute_path(base, path);
  return result;
}

// A moment that every change time tells apart: a file changed before it has
// an earlier change time, one changed after it one no earlier. File systems
// stamp changes with the coarse clock (a tick of a few ms), or, since Linux
// 6.13 for a file whose times were looked at, with the fine one. So a change
// made just before "now" may carry the current tick's coarse time, or a fine
// time above it: the boundary is the next tick, which is waited for (at most
// one tick, once per daemon) before the tool starts.
int64_t change_time_boundary() {
  auto ns = [](const timespec& t) { return static_cast<int64_t>(t.tv_sec) * 1000000000LL + t.tv_nsec; };
  timespec fine{}, coarse{};
  clock_gettime(CLOCK_REALTIME, &fine);
  while (clock_gettime(CLOCK_REALTIME_COARSE, &coarse) == 0 && ns(coarse) <= ns(fine)) {
    timespec pause{0, 250000};
    nanosleep(&pause, nullptr);
  }
  return ns(coarse);
}

struct NotificationBuffers {
  std::vector<unsigned char> request, response;
  NotificationBuffers() {
    seccomp_notif_sizes sizes{};
    syscall(__NR_seccomp, SECCOMP_GET_NOTIF_SIZES, 0, &sizes);
    request.resize(std::max<size_t>(sizes.seccomp_notif, sizeof(seccomp_notif)));
    response.resize(std::max<size_t>(sizes.seccomp_notif_resp, sizeof(seccomp_notif_resp)));
  }
};

}  // namespace

StartTracker::StartTracker(std::string own_dir)
    : own_dir_(std::move(own_dir)), wake_(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) {
  thread_ = std::thread([this] { serve(); });
}

StartTracker::~StartTracker() {
  stopping_ = true;
  uint64_t one = 1;
  (void)!write(wake_.get(), &one, sizeof one);
  thread_.join();
}

bool StartTracker::prepare(const std::string& tool_path, TrackChannel* channel) {
  if (state_ != TrackState::kRecording) return false;
  struct stat st;
  if (stat(tool_path.c_str(), &st) == 0 && (st.st_mode & (S_ISUID | S_ISGID))) {
    refuse("the tool " + tool_path + " is setuid or setgid, and tracing it is not allowed");
    return false;
  }
  if (started_ns_ == 0) started_ns_ = change_time_boundary();
  int fds[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0) {
    refuse(std::string("cannot create a socket pair: ") + std::strerror(errno));
    return false;
  }
  channel->parent.reset(fds[0]);
  channel->child.reset(fds[1]);
  return true;
}

void StartTracker::install_in_child(int channel) {
  int listener = install_filter();
  // Unprivileged, a filter needs no_new_privs: the tool then cannot gain
  // privileges through exec (prepare() refuses setuid tools beforehand).
  if (listener < 0 && errno == EACCES && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0) listener = install_filter();
  int error = listener < 0 ? errno : 0;
  iovec part{&error, sizeof error};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
  msghdr message{};
  message.msg_iov = &part;
  message.msg_iovlen = 1;
  if (listener >= 0) {
    message.msg_control = control;
    message.msg_controllen = sizeof control;
    cmsghdr* header = CMSG_FIRSTHDR(&message);
    header->cmsg_level = SOL_SOCKET;
    header->cmsg_type = SCM_RIGHTS;
    header->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(header), &listener, sizeof listener);
  }
  (void)!sendmsg(channel, &message, MSG_NOSIGNAL);
  if (listener >= 0) close(listener);
}

void StartTracker::adopt(TrackChannel channel) {
  channel.child.reset();
  int error = 0;
  iovec part{&error, sizeof error};
  std::vector<UniqueFd> fds;
  bool truncated = false;
  ssize_t n;
  while ((n = receive_with_descriptors(channel.parent.get(), &part, 1, &fds, &truncated)) < 0 && errno == EINTR) {
  }
  if (n < static_cast<ssize_t>(sizeof error)) return;  // the child ended before exec: nothing to track
  if (error != 0 || fds.empty()) {
    refuse(std::string("the kernel refused a seccomp filter: ") + std::strerror(error ? error : EBADF));
    return;
  }
  ioctl(fds.front().get(), SECCOMP_IOCTL_NOTIF_SET_FLAGS,
        SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP);  // older kernels: not needed
  std::lock_guard lock(mutex_);
  listeners_.push_back(std::move(fds.front()));
  uint64_t one = 1;
  (void)!write(wake_.get(), &one, sizeof one);
}

void StartTracker::start_up_done() {
  TrackState recording = TrackState::kRecording;
  if (!state_.compare_exchange_strong(recording, TrackState::kDone)) return;
  {
    std::lock_guard lock(mutex_);
    for (const std::string& path : paths_) {
      FileState file = read_file_state(path);
      if (!file.regular) continue;  // not there (a failed open), a directory, a pipe
      // Changed since the tool started, and not by the tool itself (Python
      // replaces the stale compiled module of an edited one): what the tool
      // read may be the old contents. The change time cannot be set back.
      if (file.ctime_ns >= started_ns_ && !written_.count(path) && changed_at_start_.empty()) changed_at_start_ = path;
      files_.push_back(std::move(file));
    }
    std::sort(files_.begin(), files_.end(), [](const FileState& a, const FileState& b) { return a.path < b.path; });
    spdlog::info("the tool read {} files at start; they are part of the identity now", files_.size());
  }
  if (on_done_) on_done_();
}

TrackState StartTracker::state() const { return state_; }

std::string StartTracker::problem() const {
  std::lock_guard lock(mutex_);
  return problem_;
}

std::string StartTracker::changed_at_start() const {
  std::lock_guard lock(mutex_);
  return changed_at_start_;
}

std::vector<FileState> StartTracker::files() const {
  std::lock_guard lock(mutex_);
  return files_;
}

// Said once, in the log and (through the status) to `run -v` and `list -v`.
void StartTracker::refuse(const std::string& problem) {
  TrackState recording = TrackState::kRecording;
  if (!state_.compare_exchange_strong(recording, TrackState::kRefused)) return;
  std::lock_guard lock(mutex_);
  problem_ = problem;
  paths_.clear();
  files_.clear();
  spdlog::warn(
      "cannot track the files the tool reads at start: {}; the identity covers only the tool, the files "
      "its arguments name and the variables",
      problem);
}

void StartTracker::serve() {
  std::vector<pollfd> polled;
  std::vector<int> gone;
  while (!stopping_) {
    {
      std::lock_guard lock(mutex_);
      std::erase_if(listeners_,
                    [&](const UniqueFd& fd) { return std::find(gone.begin(), gone.end(), fd.get()) != gone.end(); });
      gone.clear();
      polled.assign(1, pollfd{wake_.get(), POLLIN, 0});
      for (const UniqueFd& fd : listeners_) polled.push_back(pollfd{fd.get(), POLLIN, 0});
    }
    if (poll(polled.data(), polled.size(), -1) < 0) continue;
    uint64_t count;
    if (polled[0].revents) (void)!read(wake_.get(), &count, sizeof count);
    for (size_t i = 1; i < polled.size(); ++i) {
      // Answered before a hang-up is seen: the last tool may still wait.
      if (polled[i].revents & POLLIN)
        answer(polled[i].fd);
      else if (polled[i].revents & (POLLHUP | POLLERR | POLLNVAL))
        gone.push_back(polled[i].fd);
    }
  }
}

// The tool waits until this answers: the path is read while it waits, the
// answer goes at once, and the file's state is taken after.
void StartTracker::answer(int listener) {
  static thread_local NotificationBuffers buffers;
  std::fill(buffers.request.begin(), buffers.request.end(), 0);
  auto* request = reinterpret_cast<seccomp_notif*>(buffers.request.data());
  if (ioctl(listener, SECCOMP_IOCTL_NOTIF_RECV, request) != 0) return;  // the call was withdrawn
  TrackedCall call = state_ == TrackState::kRecording ? tracked_call(*request) : TrackedCall{};
  // Noted before the answer (a set insertion, no stat): start-up, which
  // ends once the tool waits for input, cannot end before the path is known.
  if (!call.path.empty()) note(call);
  std::fill(buffers.response.begin(), buffers.response.end(), 0);
  auto* response = reinterpret_cast<seccomp_notif_resp*>(buffers.response.data());
  response->id = request->id;
  response->flags = SECCOMP_USER_NOTIF_FLAG_CONTINUE;
  ioctl(listener, SECCOMP_IOCTL_NOTIF_SEND, response);
}

// Only the path, while the tool waits for this thread's answer: the files'
// states are taken when start-up ends.
void StartTracker::note(const TrackedCall& call) {
  std::lock_guard lock(mutex_);
  if (state_ != TrackState::kRecording) return;
  if (call.written)
    written_.insert(call.path);
  else if (tracks_path(call.path, own_dir_) && seen_.insert(call.path).second)
    paths_.push_back(call.path);
}

}  // namespace viasock
