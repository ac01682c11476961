"""Process helpers of the end-to-end tests: readers of /proc (whether a
process lives, its state, children, working directory, descriptors and the
numbers in its status) and waits on processes. harness.py re-exports them;
they import nothing from it."""

import os
import time

MiB = 1 << 20


def pid_alive(pid):
    """True if pid exists and is not a zombie."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    try:
        with open("/proc/%d/stat" % pid, "rb") as f:
            stat = f.read()
    except OSError:
        return False
    state = stat[stat.rfind(b")") + 2:][:1]
    return state not in (b"Z", b"X", b"x")


def wait_until(predicate, timeout=5.0, interval=0.05):
    """Poll predicate until it is true or timeout seconds have passed.
    Returns the last value of predicate()."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() >= deadline:
            return value
        time.sleep(interval)


def proc_link(pid, name):
    try:
        return os.readlink("/proc/%d/%s" % (pid, name))
    except OSError:
        return None


def pids_with_cwd_under(directory):
    """Live pids (of any process but this one) whose working directory is
    directory or below it."""
    directory = os.path.realpath(directory)
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        pid = int(entry)
        if pid == os.getpid():
            continue
        cwd = proc_link(pid, "cwd")
        if cwd is None:
            continue
        if cwd == directory or cwd.startswith(directory + os.sep):
            if pid_alive(pid):
                found.append(pid)
    return found


def proc_state(pid):
    """The state letter of pid from /proc/PID/stat (b'R', b'S', b'Z', ...),
    or None when there is no such process."""
    try:
        with open("/proc/%d/stat" % pid, "rb") as f:
            stat = f.read()
    except OSError:
        return None
    return stat[stat.rfind(b")") + 2:][:1]


def child_pids(ppid):
    """{pid: state letter} of the processes whose parent is ppid."""
    found = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % entry, "rb") as f:
                stat = f.read()
        except OSError:
            continue
        fields = stat[stat.rfind(b")") + 2:].split()
        if len(fields) > 1 and int(fields[1]) == ppid:
            found[int(entry)] = fields[0]
    return found


def proc_field(pid, name, field):
    """The number after "field:" in /proc/PID/name (status, io), or None
    when the process or the field is not there."""
    try:
        with open("/proc/%d/%s" % (pid, name)) as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def fd_count(pid):
    """Number of open descriptors of pid (None when unreadable)."""
    try:
        return len(os.listdir("/proc/%d/fd" % pid))
    except OSError:
        return None


def proc_status(pid, field):
    """A kB field of /proc/PID/status (VmHWM, VmRSS) in bytes, or None."""
    kib = proc_field(pid, "status", field)
    return None if kib is None else kib * 1024


def wait_dead(pids, timeout=5.0):
    """Wait until none of pids is alive (zombies count as dead); returns the
    pids still alive."""
    wait_until(lambda: not any(pid_alive(p) for p in pids), timeout=timeout)
    return [p for p in pids if pid_alive(p)]
