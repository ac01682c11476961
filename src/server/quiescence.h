// Whether the tool is waiting for input: every thread of the tool and of its
// descendants asleep, and one of them blocked reading the tool's stdin pipe
// (read(2) on it, or poll/select/epoll while holding it). With nothing left in
// that pipe, the tool has then consumed every record it was given and printed
// everything it is going to print for them. Observed through /proc:
// /proc/PID/task/TID/stat (the state letter), .../syscall (the system call a
// sleeping thread is in, and its first argument), .../children.
#pragma once

#include <sys/types.h>

#include <string_view>

namespace viasock {

enum class ToolActivity {
  kWaitingForInput,  // quiescent: blocked on its stdin
  kBusy,             // running, or asleep for another reason (loading, sleep(3))
  kGone,             // the process no longer exists
  kUnobservable,     // /proc does not tell (no /proc/PID/syscall here)
};

ToolActivity observe_tool(pid_t pid, ino_t stdin_inode);

// Parsing helpers, exposed for tests. (The stat line: common/proc_stat.h.)
struct SyscallState {
  bool running = true;  // "running": not in a system call we can see
  long number = -1;
  long first_argument = -1;
};
SyscallState parse_syscall(std::string_view text);
// Whether a blocked system call `number` waits for input: on its first
// argument (read, readv, ...), or on a set of descriptors (poll, select,
// epoll_wait, ...: *on_descriptor_set).
bool waits_for_input(long number, bool* on_descriptor_set);

}  // namespace viasock
