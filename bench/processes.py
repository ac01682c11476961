"""Process helpers of bench/run: reaping the daemons it caused to exist (it
is their child subreaper), ending a process by pid, the pids of a state
directory's daemons, and timing runs started with posix_spawn, alternated
A B A B so that drifting load hits both sides."""

import ctypes
import glob
import json
import os
import shlex
import signal
import time


def become_subreaper():
    """Orphaned descendants (the double-forked daemons) become our children."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        PR_SET_CHILD_SUBREAPER = 36
        return libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0
    except OSError:
        return False


def reap_orphans():
    """Reaps any exited adopted child without blocking."""
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def process_gone(pid):
    reap_orphans()
    try:
        with open("/proc/%d/stat" % pid) as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
        return state in ("Z", "X")
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return True


def end_process(pid, wait=5.0):
    """SIGTERM, then SIGKILL after a bounded wait; True if it went on TERM."""
    if process_gone(pid):
        return True
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return True
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        if process_gone(pid):
            return True
        time.sleep(0.002)
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline and not process_gone(pid):
        time.sleep(0.01)
    return False


def daemon_pids(state_dir):
    pids = []
    for path in glob.glob(os.path.join(state_dir, "run", "*.json")):
        try:
            with open(path) as f:
                pids.append(int(json.load(f)["pid"]))
        except (OSError, ValueError, KeyError):
            pass
    return pids


def spawn(argv, env, stdin="/dev/null", stdout="/dev/null"):
    """Starts argv with stdin/stdout from/to files; returns its pid."""
    actions = [
        (os.POSIX_SPAWN_OPEN, 0, stdin, os.O_RDONLY, 0),
        (os.POSIX_SPAWN_OPEN, 1, stdout, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600),
    ]
    return os.posix_spawn(argv[0], argv, env, file_actions=actions)


def wait_status(pid):
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status)


def timed(argv, env, stdin="/dev/null", stdout="/dev/null"):
    """Wall time of one run in seconds; fails loudly on a non-zero exit."""
    start = time.perf_counter()
    pid = spawn(argv, env, stdin, stdout)
    code = wait_status(pid)
    elapsed = time.perf_counter() - start
    if code != 0:
        raise RuntimeError("exit status %d from %s" % (code, shlex.join(argv)))
    return elapsed


def alternate(n, a, b, between=None):
    """Runs a() and b() alternately n times each; returns the two time lists."""
    ta, tb = [], []
    for i in range(n):
        ta.append(a())
        if between:
            between()
        tb.append(b())
    return ta, tb
