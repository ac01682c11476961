"""A daemon many callers can trust: an event loop that never blocks or
spins, timeouts that mean what they say, and small things a caller may do
wrong (a huge command line; closed standard streams are in test_errors).
Bounded memory is in test_bounded_memory."""

import os
import pwd
import subprocess
import time
import unittest

from harness import HANG_TIMEOUT, SANITIZED, ViasockTestCase, log, wait_dead, wait_until
from processes import MiB


def cpu_seconds(pid):
    """User plus system CPU time of pid so far, or None when it is gone."""
    try:
        with open("/proc/%d/stat" % pid, "rb") as f:
            stat = f.read()
    except OSError:
        return None
    fields = stat[stat.rfind(b")") + 2:].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def runnable_seconds(pid):
    """Seconds pid's threads have spent running or waiting to run so far
    (/proc/PID/task/*/schedstat: time on a CPU plus time in the run queue),
    or None when it is gone. A process that spins is runnable all the time,
    however many others share the CPUs; one that waits for events is not,
    however slowly it is scheduled: over a window, this time divided by the
    window tells the two apart on a loaded machine, where a CPU share would
    shrink for both."""
    total = 0
    try:
        for task in os.listdir("/proc/%d/task" % pid):
            with open("/proc/%d/task/%s/schedstat" % (pid, task)) as f:
                running, waiting = f.read().split()[:2]
            total += int(running) + int(waiting)
    except (OSError, ValueError):
        return None
    return total / 1e9


def runnable_share(pids, seconds):
    """The share of a window of `seconds` that pids (summed) were runnable."""
    before, began = sum(runnable_seconds(p) for p in pids), time.monotonic()
    time.sleep(seconds)
    after = sum(runnable_seconds(p) for p in pids)
    return (after - before) / (time.monotonic() - began)


class EventLoopTest(ViasockTestCase):
    def test_tiny_idle_timeout(self):
        for i in range(10):
            t0 = time.monotonic()
            r = self.run_vs(["run", "-W", "0.000001", "cat"], b"hi\n", timeout=2 * HANG_TIMEOUT)
            elapsed = time.monotonic() - t0
            log("call %d: %.2f s, exit %d" % (i, elapsed, r.returncode))
            self.assertOk(r)
            self.assertEqual(r.stdout, b"hi\n")
            # Bounds a hang (a daemon gone before it served, a caller left
            # waiting), not speed.
            self.assertLess(elapsed, HANG_TIMEOUT)

    def test_out_of_descriptors(self):
        # The daemon inherits a hard limit of 40 descriptors, so most of 60
        # clients wait in its backlog; it must neither spin nor flood its log,
        # and must outlive them all (it keeps descriptors for its own use).
        cmd = ["run", "-W", "0", "cat"]
        warm = subprocess.run(["bash", "-c", 'ulimit -n 40 && exec "$0" "$@"', self.bin] + cmd,
                              input=b"warm\n", stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              cwd=self.tmp, env=self.env, timeout=30)
        self.assertOk(warm)
        daemon = self.the_daemon()
        clients = [self.spawn_vs(cmd) for _ in range(60)]
        for i, p in enumerate(clients):
            p.stdin.write(b"client %d\n" % i)
            p.stdin.flush()
        time.sleep(1.5)
        before = cpu_seconds(daemon)
        # Runnable time, not CPU time: a spinning daemon would be runnable
        # for the whole window whatever else runs beside it (share near 1),
        # a waiting one only while it works. A CPU share against a fixed
        # bound would pass a spinning daemon that gets little CPU on a
        # busy machine, and shrink or grow with the machine's load.
        share = runnable_share([daemon], 2)
        log("daemon runnable while saturated: %.0f %% of the time (%.2f s of CPU)"
            % (share * 100, cpu_seconds(daemon) - before))
        self.assertDaemonAlive(daemon, "while 60 clients wait")
        if not SANITIZED:
            self.assertLess(share, 0.5, "the daemon spins while clients wait in its backlog")
        for p in clients:
            p.stdin.close()
        for i, p in enumerate(clients):
            # Waited for first, so that a client that never ends fails the
            # test instead of hanging it; its few bytes of output fit in
            # the pipe meanwhile.
            self.assertEqual(p.wait(timeout=60), 0, p.stderr.read())
            self.assertEqual(p.stdout.read(), b"client %d\n" % i)
        self.assertDaemonAlive(daemon, "after serving 60 clients")
        [log_path] = [d["log"] for d in self.run_jsons().values()]
        with open(log_path, "rb") as f:
            text = f.read()
        self.assertIn(b"listening on", text, "the start-up lines must stay in the log")
        for report in (b"runtime error", b"Sanitizer"):  # a sanitizer's report that could not go to its file
            self.assertNotIn(report, text, self.log_tails())
        if not SANITIZED:  # slower clients under the sanitizers may never overlap enough
            self.assertIn(b"out of descriptors: Too many open files", text, "the test must reach the limit")
        self.assertLessEqual(text.count(b"out of descriptors"), 3, "logged once per episode, not per attempt")

    def test_timeouts_beyond_any_lifetime(self):
        for args in (["-W", "1e10"], ["-W", "inf"], ["-w", "1e10"], ["-w", "inf"]):
            with self.subTest(args=args):
                r = self.run_vs(["run"] + args + ["cat"], b"a\nb\n", timeout=20)
                self.assertOk(r)
                self.assertEqual(r.stdout, b"a\nb\n")
        # None of these daemons exits at once, and none spins.
        time.sleep(1)
        pids = self.live_daemon_pids()
        # Beyond any lifetime means none; -W and -w do not fork daemons: one.
        self.assertEqual(len(pids), 1)
        # Runnable time as a share of the window (see runnable_seconds): an
        # idle daemon waits, a spinning one is runnable all the time.
        share = runnable_share(pids, 2)
        log("idle daemons runnable %.0f %% of 2 s" % (share * 100))
        if not SANITIZED:
            self.assertLess(share, 0.25, "an idle daemon spins")

    def test_nan_timeouts_are_usage_errors(self):
        for option in ("-w", "-W"):
            r = self.run_vs(["run", option, "nan", "cat"])
            self.assertEqual(r.returncode, 2)
            self.assertErrorLine(r, option, "number of seconds")


class CallerMistakesTest(ViasockTestCase):
    def test_argument_list_too_long_for_the_daemon(self):
        # The client's own command line just fits; the daemon's, a little
        # longer, does not: the call must say so instead of "cannot execute".
        env = {"PATH": "/usr/bin:/bin"}

        def fits(size):
            try:
                subprocess.run([self.bin, "run", "--no-spawn", "cat", "x" * 100000] + ["y" * 99] * (size // 100),
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env,
                               cwd=self.tmp, timeout=30)
                return True
            except OSError:
                return False

        low, high = 0, 8 * MiB
        if fits(high):
            self.skipTest("no argument size limit below 8 MiB")
        while high - low > 100:
            middle = (low + high) // 2
            low, high = (middle, high) if fits(middle) else (low, middle)
        args = ["run", "cat", "x" * 100000] + ["y" * 99] * (low // 100)
        r = subprocess.run([self.bin] + args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
                           cwd=self.tmp, timeout=30)
        log("huge command line: exit %d, %r" % (r.returncode, r.stderr[:300]))
        self.assertEqual(r.returncode, 125)
        self.assertErrorLine(r, "Argument list too long")

    def test_other_user_is_told_why(self):
        binary = self.other_user_binary()
        sock = os.path.join(self.tmp, "s")
        server = subprocess.Popen([binary, "server", "-W", "30", "-l", os.path.join(self.tmp, "log"), sock, "cat"],
                                  stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                  stderr=subprocess.DEVNULL, cwd=self.tmp, env=self.env)
        self.children.append(server)
        self.assertTrue(wait_until(lambda: os.path.exists(sock), timeout=10))
        os.chmod(sock, 0o777)
        r = subprocess.run(["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", binary, "client",
                            sock], input=b"theirs\n", stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           cwd=self.tmp, env=self.env, timeout=20)
        self.assertEqual(r.returncode, 125)
        self.assertErrorLine(r, "refused the connection", "uid %d is not its owner" % pwd.getpwnam("nobody").pw_uid)
        server.kill()
        server.wait(timeout=5)

    def test_rotated_logs_are_private(self):
        os.umask(0o022)
        self.assertOk(self.run_vs(["run", "-W", "0", "cat"], b"a\n"))
        daemon = self.the_daemon()
        [log_path] = [d["log"] for d in self.run_jsons().values()]
        self.assertOk(self.run_vs(["stop", "--all"]))
        self.assertEqual(wait_dead([daemon], 10), [])
        with open(log_path, "ab") as f:  # the next line logged rotates it
            f.write(b"padding\n" * (MiB // 8 + 1))
        self.assertOk(self.run_vs(["run", "-W", "0", "cat"], b"b\n"))
        rotated = log_path[:-len(".log")] + ".1.log"
        self.assertTrue(os.path.exists(rotated), "the log did not rotate")
        for path in (log_path, rotated):
            self.assertEqual(os.stat(path).st_mode & 0o777, 0o600, path)


class NoHangTest(ViasockTestCase):
    """Calls that once never ended: each ends, with the direct run's bytes
    and status or a loud failure, well within its bound."""

    def assert_direct_or_loud(self, tool, data, args=()):
        vs = self.run_vs(["run"] + list(args) + tool, data, timeout=60)
        if vs.returncode == 0:
            self.assertSameAsDirect(vs, self.direct(tool, data))
        else:
            self.assertErrorLine(vs)
        return vs

    def test_w_with_max_records_on_a_stateful_tool(self):
        # Used to print five lines and hang for ever.
        tool = ["gawk", "{print NR\": \"$0}"]
        data = b"".join(b"%d\n" % i for i in range(1, 9))
        for _ in range(2):
            self.assertOk(self.assert_direct_or_loud(tool, data, ["-w", "3", "--max-records", "3"]))

    def test_a_tool_that_closes_its_stdout_after_its_first_answer(self):
        # Used to hang the first call of a fresh daemon for ever.
        tool = ["python3", self.write_file("closes.py", "import os, sys\n"
                                                        "print(sys.stdin.readline(), end='', flush=True)\n"
                                                        "os.close(1)\n"
                                                        "for line in sys.stdin:\n"
                                                        "    pass\n")]
        for data in (b"a\n", b"a\nb\n", b"a\nb\nc\n"):
            self.assert_direct_or_loud(tool, data)


if __name__ == "__main__":
    unittest.main()
