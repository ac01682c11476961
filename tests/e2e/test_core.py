"""Core behaviour of `viasock run`: byte-identical output, one tool start
shared by many calls, concurrency, restart on a changed tool, idle timeout,
start-up failures, and `viasock client`."""

import concurrent.futures
import json
import os
import shutil
import threading
import time
import unittest

from harness import HANG_TIMEOUT, SLOWTOOL, ViasockTestCase, have, log, pid_alive, wait_until

# A line filter in Python, unbuffered: reverses every line's bytes.
PY_REVERSE = (
    "import sys\n"
    "for line in iter(sys.stdin.buffer.readline, b''):\n"
    "    body = line[:-1] if line.endswith(b'\\n') else line\n"
    "    sys.stdout.buffer.write(body[::-1] + b'\\n')\n"
)


def line_tools():
    """Real 1:1 line tools: name -> command."""
    tools = {"cat": ["cat"]}
    if have("gawk"):
        tools["gawk"] = ["gawk", "{ print; fflush() }"]
    tools["python3 -u"] = ["python3", "-u", "-c", PY_REVERSE]
    tools["slowtool"] = [SLOWTOOL, "--mode", "rev"]
    return tools


def numbered_lines(n, tag=b""):
    return b"".join(b"%s%d\t%s|%d\n" % (tag, i, b"abcdefghij"[:i % 11] * (i % 7),
                                         i * 7919 % 1000003)
                    for i in range(n))


class ByteIdentityTest(ViasockTestCase):
    """Output through viasock equals the tool's direct output, byte for byte."""

    def check_all(self, data, tools=None):
        for name, cmd in (tools or line_tools()).items():
            with self.subTest(tool=name, input_bytes=len(data)):
                direct = self.direct(cmd, data)
                self.assertEqual(direct.returncode, 0, direct.stderr)
                vs = self.run_vs(["run"] + cmd, data)
                self.assertOk(vs)
                self.assertSameAsDirect(vs, direct, "%s output" % name)

    def test_empty_input(self):
        self.check_all(b"")

    def test_one_line(self):
        self.check_all(b"hello world\n")

    def test_100000_lines(self):
        data = numbered_lines(100000)
        self.assertEqual(data.count(b"\n"), 100000)
        self.check_all(data)

    def test_one_2mb_line(self):
        chunk = bytes(range(32, 127))
        line = (chunk * (2 * 1024 * 1024 // len(chunk) + 1))[:2 * 1024 * 1024]
        self.check_all(line + b"\n")

    def test_every_byte_value(self):
        every = bytes(b for b in range(256) if b != 10)
        data = b"".join([
            every + b"\n",
            every[::-1] + b"\n",
            b"\r\n",
            b"carriage\rreturn\r\n",
            b"\0\n",
            b"nul\0in\0the\0middle\n",
            b"\xff\xfe\xfd\n",
            b"\xff\n",
            b"\n",
            b"\n",
            b"\xc3\x28 invalid utf-8 \xe2\x82\n",
            b"\x1b[31mescape\x1b[0m\n",
        ])
        self.check_all(data)

    def test_final_line_without_newline(self):
        # Tools that terminate every answer: the unterminated last line is
        # answered like the others (here as in a direct run).
        tools = {"slowtool": [SLOWTOOL]}
        if have("gawk"):
            tools["gawk"] = ["gawk", "{ print toupper($0); fflush() }"]
        for name, cmd in tools.items():
            with self.subTest(tool=name):
                vs = self.run_vs(["run"] + cmd, b"abc\ndef")
                self.assertOk(vs)
                self.assertBytesEqual(vs.stdout, b"ABC\nDEF\n")
                self.assertSameAsDirect(vs, self.direct(cmd, b"abc\ndef"))


class StartupOnceTest(ViasockTestCase):
    def test_slow_tool_starts_once(self):
        starts = self.starts_file()
        env = self.starts_env(starts)
        cmd = ["run", "--pipe"] + self.slowtool("--delay", "1.5")
        times = []
        for i in range(5):
            data = b"call %d\nsecond line of call %d\n" % (i, i)
            t0 = time.monotonic()
            r = self.run_vs(cmd[:1] + ["-v"] + cmd[1:], data, env=env)
            times.append(time.monotonic() - t0)
            self.assertOk(r)
            self.assertBytesEqual(r.stdout, data.upper(), "answers of call %d" % i)
            # -v says whether the call started a daemon or reused one.
            said = b"started daemon " if i == 0 else b"reusing daemon "
            self.assertIn(said, r.stderr, "call %d" % i)
        log("call times (s): " + ", ".join("%.3f" % t for t in times))
        # A lower bound: the tool sleeps 1.5 s, so load can only lengthen it.
        self.assertGreaterEqual(times[0], 1.4, "first call cannot skip the start-up delay")
        # The warm calls did not wait for a start-up, shown by counts rather
        # than by their times: each reused the first call's daemon (above),
        # and the tool started once in all, its start-up over before the
        # first call got its answers.
        self.assertEqual(len(self.started_pids(starts)), 1,
                         "the tool must start once over 5 calls")
        self.assertEqual(len(self.run_jsons()), 1)


class ConcurrentClientsTest(ViasockTestCase):
    def test_16_clients_get_their_own_answers(self):
        starts = self.starts_file()
        env = self.starts_env(starts)
        cmd = ["run", "--pipe"] + self.slowtool()
        warm = self.run_vs(cmd, b"warm up\n", env=env)
        self.assertOk(warm)
        self.assertEqual(warm.stdout, b"WARM UP\n")

        inputs = [numbered_lines(2000, tag=b"client-%02d-%s " % (c, b"xyz" * c))
                  for c in range(16)]
        barrier = threading.Barrier(16, timeout=30)

        def one(c):
            barrier.wait()
            return self.run_vs(cmd, inputs[c], timeout=60, env=env)

        with concurrent.futures.ThreadPoolExecutor(max_workers=16) as pool:
            results = list(pool.map(one, range(16)))
        for c, r in enumerate(results):
            with self.subTest(client=c):
                self.assertOk(r, "client %d" % c)
                self.assertBytesEqual(r.stdout, inputs[c].upper(), "answers of client %d" % c)
        self.assertEqual(len(self.started_pids(starts)), 1, "one tool start")
        self.assertEqual(len(self.run_jsons()), 1, "one daemon")


class SimultaneousFirstCallsTest(ViasockTestCase):
    def test_16_first_calls_start_one_daemon(self):
        starts = self.starts_file()
        env = self.starts_env(starts)
        cmd = ["run", "--pipe"] + self.slowtool("--delay", "0.5")
        barrier = threading.Barrier(16, timeout=30)

        def one(c):
            data = b"first call %d\nfrom client %d\n" % (c, c) * (c + 1)
            barrier.wait()
            return data, self.run_vs(cmd, data, timeout=60, env=env)

        with concurrent.futures.ThreadPoolExecutor(max_workers=16) as pool:
            results = list(pool.map(one, range(16)))
        for c, (data, r) in enumerate(results):
            with self.subTest(client=c):
                self.assertOk(r, "client %d" % c)
                self.assertBytesEqual(r.stdout, data.upper(), "answers of client %d" % c)
        self.assertEqual(len(self.started_pids(starts)), 1,
                         "exactly one tool start; pids: %r" % self.started_pids(starts))
        self.assertEqual(len(self.run_jsons()), 1,
                         "exactly one daemon: %r" % list(self.run_jsons()))


class ToolChangeTest(ViasockTestCase):
    def test_touched_tool_gets_new_daemon(self):
        tool = os.path.join(self.tmp, "slowtool")
        shutil.copy2(SLOWTOOL, tool)
        os.chmod(tool, 0o755)
        cmd = ["run", "./slowtool", "--mode", "rev"]

        r = self.run_vs(cmd, b"abc\n")
        self.assertOk(r)
        self.assertEqual(r.stdout, b"cba\n")
        before = self.run_jsons()
        self.assertEqual(len(before), 1, before)
        (old_path, old), = before.items()
        old_pid = old["pid"]
        self.assertTrue(pid_alive(old_pid))

        st = os.stat(tool)
        os.utime(tool, ns=(st.st_atime_ns, st.st_mtime_ns + 5 * 10**9))

        r = self.run_vs(cmd, b"xyz\n")
        self.assertOk(r)
        self.assertEqual(r.stdout, b"zyx\n")
        new = {p: d for p, d in self.run_jsons().items() if p != old_path}
        self.assertEqual(len(new), 1, "a new daemon for the changed tool: %r"
                         % list(self.run_jsons()))
        (new_path, new_data), = new.items()
        self.assertNotEqual(new_data["pid"], old_pid)
        self.assertNotEqual(new_data.get("id"), old.get("id"))
        # Bounds a hang (an old daemon that never leaves), not speed.
        self.assertTrue(wait_until(lambda: not pid_alive(old_pid), timeout=HANG_TIMEOUT),
                        "old daemon %d still alive %d s after the tool changed" % (old_pid, HANG_TIMEOUT))
        self.assertTrue(pid_alive(new_data["pid"]))


class IdleTimeoutTest(ViasockTestCase):
    def test_daemon_exits_after_idle_timeout(self):
        starts = self.starts_file()
        r = self.run_vs(["run", "--pipe", "-W", "2"] + self.slowtool(), b"x\n",
                        env=self.starts_env(starts))
        t_end = time.monotonic()
        self.assertOk(r)
        self.assertEqual(r.stdout, b"X\n")
        daemons = self.daemon_pids()
        tools = self.started_pids(starts)
        self.assertEqual(len(daemons), 1)
        self.assertEqual(len(tools), 1)
        self.assertTrue(pid_alive(daemons[0]))

        # The daemon does not exit before its idle timeout: it still answers
        # `list` once its own clock says it has been idle for a second (a
        # sleep here would measure this process's wake-up on a loaded
        # machine, not the daemon's timer). `list` is no call: it does not
        # reset the idle time.
        idle = []

        def idle_a_second():
            r = self.run_vs(["list", "--json"])
            entries = [e for e in json.loads(r.stdout) if e["pid"] == daemons[0] and e["answering"]]
            idle.extend(e["idle"] for e in entries)
            return not entries or entries[0]["idle"] >= 1.0
        # Bounds a hang (idle time that never grows), not speed.
        self.assertTrue(wait_until(idle_a_second, timeout=HANG_TIMEOUT), idle)
        self.assertTrue(idle and max(idle) >= 1.0,
                        "daemon exited before its 2 s idle timeout; idle times it told: %s" % idle)

        def all_gone():
            return (not any(pid_alive(p) for p in daemons + tools)
                    and not self.sockets() and not self.run_jsons())
        # Bounds a hang (a daemon that never leaves), not speed.
        gone = wait_until(all_gone, timeout=HANG_TIMEOUT)
        log("daemon gone %.2f s after the last client" % (time.monotonic() - t_end))
        self.assertFalse([p for p in daemons if pid_alive(p)], "daemon still alive")
        self.assertFalse([p for p in tools if pid_alive(p)], "tool still alive")
        self.assertEqual(self.sockets(), [], "socket left in sockets/")
        self.assertEqual(list(self.run_jsons()), [], "run json left")
        self.assertTrue(gone)
        self.assertEqual(self.procs_in_tmp(), [], "stray processes")


class StartupFailureTest(ViasockTestCase):
    def test_tool_failing_at_start(self):
        starts = self.starts_file()
        t0 = time.monotonic()
        r = self.run_vs(["run"] + self.slowtool("--fail-at-start", "model file missing",
                                                "--status", "3"),
                        b"some input\n", timeout=2 * HANG_TIMEOUT, env=self.starts_env(starts))
        elapsed = time.monotonic() - t0
        log("failing call took %.2f s; stderr: %r" % (elapsed, r.stderr))
        self.assertEqual(r.returncode, 3, r.stderr)
        self.assertEqual(r.stdout, b"")
        # The tool's stderr reaches the caller once: live when it connected
        # before the tool failed, else at the end of viasock's error line.
        error = r.stderr[r.stderr.index(b"viasock: error: "):]
        self.assertIn(b"exited with status 3", error.split(b"\n", 1)[0])
        self.assertEqual(r.stderr.count(b"model file missing"), 1, r.stderr)
        # Bounds a hang (a caller left waiting for a tool that is gone), not speed.
        self.assertLess(elapsed, HANG_TIMEOUT)
        self.assertTrue(wait_until(lambda: not self.live_daemon_pids() and
                                   not self.procs_in_tmp(), timeout=HANG_TIMEOUT),
                        "daemon left: %r %r" % (self.live_daemon_pids(), self.procs_in_tmp()))
        self.assertEqual(self.sockets(), [], "socket left in sockets/")


class ClientCommandTest(ViasockTestCase):
    def test_client_streams_through_existing_daemon(self):
        starts = self.starts_file()
        r = self.run_vs(["run", "--pipe"] + self.slowtool(), b"start\n", env=self.starts_env(starts))
        self.assertOk(r)
        self.assertEqual(r.stdout, b"START\n")
        socks = self.sockets()
        self.assertEqual(len(socks), 1, socks)
        self.assertEqual(len(os.path.basename(socks[0])), 64)

        data = numbered_lines(5000, tag=b"via client ")
        c = self.run_vs(["client", socks[0]], data)
        self.assertOk(c, "viasock client")
        self.assertBytesEqual(c.stdout, data.upper())
        self.assertEqual(len(self.started_pids(starts)), 1, "no new tool start")


if __name__ == "__main__":
    unittest.main()
