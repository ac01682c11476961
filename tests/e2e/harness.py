"""Shared fixtures for the viasock end-to-end tests.

Every test gets a fresh temporary directory that is the working directory of
viasock and of the tools it runs, so the default state directory
(`./.viasock`) is private to the test and tests can run in parallel.

Teardown ends every process the test started, by pid and never by name:
daemons listed in `<statedir>/run/*.json`, tool pids recorded by slowtool
(see starts_file), clients started with `spawn_vs`, and any process whose working
directory is still inside the test's temporary directory.

The binary under test is `$VIASOCK_BIN`, by default `<repo>/build/viasock`.
"""

import concurrent.futures
import glob
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest

from processes import (child_pids, fd_count, pid_alive, pids_with_cwd_under,  # noqa: F401 (re-exported)
                       proc_field, proc_link, proc_state, wait_dead, wait_until)

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TOOLS = os.path.join(REPO, "tests", "tools")
SLOWTOOL = os.path.join(TOOLS, "slowtool")

# Default bound for one viasock call; every wait in the tests is bounded.
DEFAULT_TIMEOUT = 30


# Set by scripts/test for the sanitizer build, whose memory and CPU use say
# nothing about the product's: bounds on them are then only logged.
SANITIZED = bool(os.environ.get("VIASOCK_SANITIZED"))

# The sanitizer build's processes start several times slower: time bounds
# that tell a warm call from a cold one stretch by this factor (the counts
# of tool starts beside them keep their meaning).
TIME_SCALE = 4.0 if SANITIZED else 1.0

# Bound of a wait for something that must happen (a daemon exits, a failing
# call ends), where the daemon would otherwise leave the test hanging. It
# bounds a hang, not speed: no test asserts how fast the daemon is, only
# counts and ratios, which a loaded machine does not change.
HANG_TIMEOUT = 30 * TIME_SCALE

def viasock_bin():
    return os.path.abspath(os.environ.get("VIASOCK_BIN")
                           or os.path.join(REPO, "build", "viasock"))


def have(program):
    return shutil.which(program) is not None


def read_json(path):
    try:
        with open(path, "rb") as f:
            return json.loads(f.read().decode("utf-8"))
    except (OSError, ValueError):
        return None


def first_difference(a, b):
    n = min(len(a), len(b))
    for i in range(0, n, 4096):
        if a[i:i + 4096] != b[i:i + 4096]:
            for j in range(i, min(i + 4096, n)):
                if a[j] != b[j]:
                    return j
    return n


class ViasockTestCase(unittest.TestCase):
    """Base class: fresh temp dir as cwd, helpers to run viasock and tools,
    and a teardown that leaves no process behind."""

    maxDiff = 2000

    def setUp(self):
        self.bin = viasock_bin()
        self.tmp = os.path.realpath(tempfile.mkdtemp(prefix="viasock-e2e-"))
        self.state_dir = os.path.join(self.tmp, ".viasock")
        self.state_dirs = [self.state_dir]   # add others a test uses
        self.starts_files = []               # files where slowtool records its pids
        self.extra_pids = []                 # other pids to end at teardown
        self.children = []                   # Popen objects from spawn_vs
        self.env = dict(os.environ)
        self.env.pop("PYTHONUNBUFFERED", None)
        self.env.pop("VIASOCK_DIR", None)
        self.env.pop("SLOWTOOL_STARTS", None)
        # A per-user registry of the test's own, so that `list --all` and
        # `stop --all --everywhere` see only this test's daemons.
        self.runtime_dir = os.path.join(self.tmp, "xdg-runtime")
        os.mkdir(self.runtime_dir, 0o700)
        self.env["XDG_RUNTIME_DIR"] = self.runtime_dir
        self.addCleanup(self._cleanup)
        if not (os.path.isfile(self.bin) and os.access(self.bin, os.X_OK)):
            self.fail("viasock binary not found at %s (build it or set VIASOCK_BIN)"
                      % self.bin)

    # ----------------------------------------------------------- running

    def _env(self, env):
        merged = dict(self.env)
        if env:
            for key, value in env.items():
                if value is None:
                    merged.pop(key, None)
                else:
                    merged[key] = value
        return merged

    def run_vs(self, args, input=b"", timeout=DEFAULT_TIMEOUT, env=None, cwd=None):
        """Run viasock with args; returns subprocess.CompletedProcess with
        bytes stdout/stderr.  Fails the test if it does not finish in time."""
        cmd = [self.bin] + [str(a) for a in args]
        try:
            return subprocess.run(cmd, input=input, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, timeout=timeout,
                                  cwd=cwd or self.tmp, env=self._env(env))
        except subprocess.TimeoutExpired as e:
            self.fail("viasock %r did not finish within %s s (a daemon holding the "
                      "client's stdout/stderr open also causes this); stderr so far: %r"
                      % (args, timeout, (e.stderr or b"")[-500:]))

    def spawn_vs(self, args, env=None, cwd=None, **popen_kw):
        """Start viasock without waiting; the process is ended at teardown."""
        cmd = [self.bin] + [str(a) for a in args]
        kw = dict(stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        kw.update(popen_kw)
        p = subprocess.Popen(cmd, cwd=cwd or self.tmp, env=self._env(env), **kw)
        self.children.append(p)
        return p

    def direct(self, args, input=b"", timeout=DEFAULT_TIMEOUT, env=None, cwd=None):
        """Run the tool directly, the way viasock runs it (same cwd and env)."""
        try:
            return subprocess.run([str(a) for a in args], input=input,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                  timeout=timeout, cwd=cwd or self.tmp,
                                  env=self._env(env))
        except subprocess.TimeoutExpired:
            self.fail("direct run of %r did not finish within %s s" % (args, timeout))

    def write_file(self, name, data):
        """Writes data (bytes or text) to a file in the test's directory;
        returns its path."""
        path = os.path.join(self.tmp, name)
        with open(path, "wb" if isinstance(data, bytes) else "w") as f:
            f.write(data)
        return path

    def make_dir(self, name):
        """Makes a directory in the test's directory; returns its path."""
        path = os.path.join(self.tmp, name)
        os.mkdir(path)
        return path

    def starts_file(self, name="starts"):
        """A path where slowtool records its starts, remembered for teardown.
        Pass it with starts_env(): as a `--starts FILE` argument it would be
        part of the server identity, and the tool changes it by starting."""
        path = os.path.join(self.tmp, name)
        self.starts_files.append(path)
        return path

    @staticmethod
    def starts_env(path):
        """Environment for run_vs/direct making slowtool record its pid in path."""
        return {"SLOWTOOL_STARTS": path}

    def slowtool(self, *args):
        return [SLOWTOOL] + [str(a) for a in args]

    # ----------------------------------------------------------- state

    def the_daemon(self):
        pids = self.live_daemon_pids()
        self.assertEqual(len(pids), 1, "expected one live daemon, found %r" % pids)
        return pids[0]

    def other_user_binary(self):
        """Skips unless root with setpriv; else a copy of the binary another
        user can run, in the test's directory made 0755."""
        if os.geteuid() != 0:
            self.skipTest("needs root to run a client as another user")
        if not shutil.which("setpriv"):
            self.skipTest("setpriv is missing")
        os.chmod(self.tmp, 0o755)
        binary = os.path.join(self.tmp, "viasock")
        shutil.copy2(self.bin, binary)
        os.chmod(binary, 0o755)
        return binary

    def run_jsons(self, state_dir=None):
        """{path: parsed json} of <statedir>/run/*.json (unreadable ones skipped)."""
        out = {}
        for path in sorted(glob.glob(os.path.join(state_dir or self.state_dir,
                                                  "run", "*.json"))):
            data = read_json(path)
            if isinstance(data, dict):
                out[path] = data
        return out

    def daemon_pids(self, state_dir=None):
        pids = []
        for data in self.run_jsons(state_dir).values():
            pid = data.get("pid")
            if isinstance(pid, int) and pid > 0:
                pids.append(pid)
        return pids

    def live_daemon_pids(self, state_dir=None):
        return [p for p in self.daemon_pids(state_dir) if pid_alive(p)]

    def sockets(self, state_dir=None):
        d = os.path.join(state_dir or self.state_dir, "sockets")
        try:
            return sorted(os.path.join(d, n) for n in os.listdir(d))
        except FileNotFoundError:
            return []

    def started_pids(self, path):
        """Pids slowtool recorded in path, in order."""
        try:
            with open(path) as f:
                return [int(line) for line in f if line.strip()]
        except FileNotFoundError:
            return []

    def procs_in_tmp(self):
        """Live processes whose cwd is inside this test's temp dir."""
        return pids_with_cwd_under(self.tmp)

    def log_tails(self, lines=30, state_dir=None):
        """The last lines of each daemon log of the state directory, for a
        failure message. Logs stay when their daemon is gone, and a daemon
        that died says why there: its stderr is its log, so that is where a
        sanitizer's report goes when the report file cannot be opened."""
        logs = os.path.join(state_dir or self.state_dir, "logs")
        try:
            names = sorted(os.listdir(logs))
        except OSError:
            return "(no daemon logs in %s)" % logs
        tails = []
        for name in names:
            try:
                with open(os.path.join(logs, name), "rb") as f:
                    text = f.read().decode("utf-8", "replace")
            except OSError as e:
                text = "(unreadable: %s)" % e
            tails.append("--- %s:\n%s" % (name, "\n".join(text.splitlines()[-lines:])))
        return "\n".join(tails)

    def assertDaemonAlive(self, pid, when, state_dir=None):
        """Fails, with the end of the daemon logs, when pid is gone."""
        if not pid_alive(pid):
            self.fail("the daemon (pid %d) is gone %s; the end of its log:\n%s"
                      % (pid, when, self.log_tails(state_dir=state_dir)))

    # ----------------------------------------------------------- asserts

    def assertBytesEqual(self, got, expected, what="output"):
        if got == expected:
            return
        i = first_difference(got, expected)
        self.fail("%s differs: got %d bytes, expected %d; first difference at "
                  "offset %d: got %r, expected %r"
                  % (what, len(got), len(expected), i,
                     got[max(0, i - 20):i + 40], expected[max(0, i - 20):i + 40]))

    def assertSameAsDirect(self, vs, direct, what="output"):
        """viasock's result must equal the direct run: stdout and exit status."""
        self.assertBytesEqual(vs.stdout, direct.stdout, what)
        self.assertEqual(vs.returncode, direct.returncode,
                         "%s: exit status differs; viasock stderr: %r"
                         % (what, vs.stderr[-500:]))

    def assertCallsUpperCase(self, call, inputs, workers, what="call %d"):
        """Makes call(data) for every input, `workers` at once, and checks
        that each succeeded with its input upper-cased (what names call c)."""
        with concurrent.futures.ThreadPoolExecutor(workers) as pool:
            results = list(pool.map(call, inputs))
        for c, (data, result) in enumerate(zip(inputs, results)):
            self.assertOk(result, what % c)
            self.assertBytesEqual(result.stdout, data.upper(), what % c)

    def assertOk(self, result, what="viasock"):
        self.assertEqual(result.returncode, 0, "%s exited %d; stderr: %r"
                         % (what, result.returncode, result.stderr[-1000:]))

    def assertErrorLine(self, result, *needles):
        """stderr starts with 'viasock: error: ' and the first line contains
        every needle."""
        first = result.stderr.split(b"\n", 1)[0]
        self.assertTrue(result.stderr.startswith(b"viasock: error: "),
                        "stderr does not start with 'viasock: error: ': %r"
                        % result.stderr[-1000:])
        for needle in needles:
            if isinstance(needle, str):
                needle = needle.encode()
            self.assertIn(needle, first, "error line does not name %r: %r"
                          % (needle, first))

    # ----------------------------------------------------------- teardown

    def _is_ours(self, pid):
        """Guard against pid reuse: the process runs our binary or has its
        cwd inside the temp dir."""
        cwd = proc_link(pid, "cwd")
        if cwd is not None and (cwd == self.tmp or cwd.startswith(self.tmp + os.sep)):
            return True
        exe = proc_link(pid, "exe")
        return exe is not None and exe.split(" (deleted)")[0] == os.path.realpath(self.bin)

    def _cleanup(self):
        for p in self.children:
            if p.poll() is None:
                try:
                    p.kill()
                except OSError:
                    pass
            try:
                p.communicate(timeout=5)
            except Exception:
                pass

        daemons = []
        for d in self.state_dirs:
            daemons += [p for p in self.daemon_pids(d) if pid_alive(p) and self._is_ours(p)]
        for pid in daemons:
            try:
                os.kill(pid, signal.SIGTERM)
            except OSError:
                pass
        wait_until(lambda: not any(pid_alive(p) for p in daemons), timeout=3)
        for pid in daemons:
            if pid_alive(pid):
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass

        others = list(self.extra_pids)
        for path in self.starts_files:
            others += self.started_pids(path)
        for pid in others:
            if pid_alive(pid) and self._is_ours(pid):
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass

        # Anything still running in our directory was started by this test.
        for _ in range(3):
            stray = self.procs_in_tmp()
            if not stray:
                break
            for pid in stray:
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass
            wait_until(lambda: not self.procs_in_tmp(), timeout=2)

        for _ in range(5):
            shutil.rmtree(self.tmp, ignore_errors=True)
            if not os.path.exists(self.tmp):
                break
            time.sleep(0.1)


def log(msg):
    """Diagnostics visible in `unittest -v` / CTest output."""
    sys.stderr.write(msg + "\n")
    sys.stderr.flush()
