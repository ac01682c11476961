// Reading /proc/PID/stat ("PID (COMM) S PPID ..."): the daemon tells from it
// whether a tool's threads sleep, the client whether a daemon is alive,
// stopped, or still the process a pid was recorded for. One parser, so that
// a command name holding spaces or parentheses is read right everywhere.
#pragma once

#include <sys/types.h>

#include <string>
#include <string_view>

namespace viasock {

// The fields after COMM, from the state letter on ("S 1 2 ..."), or "" when
// `stat` is not a stat line. COMM may hold spaces and parentheses; the last
// ')' ends it.
std::string_view stat_fields(std::string_view stat);

// The state letter of a stat line ('R', 'S', 'D', 'T', 'Z', ...), or '?'.
char parse_stat_state(std::string_view stat);

// The text of /proc/PID/stat, or "" when the process is gone (or there is no
// /proc to tell).
std::string read_process_stat(pid_t pid);

// The state letter of process `pid`, or '?' when it cannot be read.
char process_state(pid_t pid);

// A zombie (Z) or a process being reaped (X) has exited: it runs nothing and
// answers nothing, whoever reaps it and however slowly.
inline bool state_has_exited(char state) { return state == 'Z' || state == 'X'; }

}  // namespace viasock
