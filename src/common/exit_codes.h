// Exit statuses of every viasock command, in one place (man/viasock.1 lists
// them too). They follow the conventions of env(1), timeout(1) and the shell.
#pragma once

#include <string>

namespace viasock {

enum ExitCode : int {
  kExitOk = 0,
  // The tool exited with status 0 (or closed its output) while records were
  // still waiting for answers.
  kExitToolQuit = 1,
  // An input record is larger than --max-record: the call cannot be served
  // as it is (the status of a tool that cannot be served as it is).
  kExitRecordTooLarge = 1,
  // Bad command line: unknown option, invalid regex, negative number.
  kExitUsage = 2,
  // A record was not answered within -w seconds; the instance was killed.
  kExitTimeout = 124,
  // viasock itself failed: the daemon could not be started or reached, the
  // state directory was refused, --no-spawn found no daemon, or stdin or
  // stdout could not be read or written (closed by the caller, for example).
  kExitDaemon = 125,
  // The tool was found but cannot be executed.
  kExitNotExecutable = 126,
  // The tool was not found.
  kExitNotFound = 127,
  // 128 + N: the tool was killed by signal N.
  kExitSignalBase = 128,
};

// Exit status for a wait(2) status of the tool, as a shell would report it.
int exit_code_for_wait_status(int wait_status);

// "exited with status 3" / "was killed by signal 9 (Killed)".
std::string describe_wait_status(int wait_status);

}  // namespace viasock
