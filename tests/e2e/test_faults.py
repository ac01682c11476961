"""Faults: a tool, daemon or client killed mid-stream, a reader that stops
early, long working directories, unsafe state directories, clients of other
users, hosts sharing a state directory, and leaks over many calls."""

import concurrent.futures
import os
import signal
import subprocess
import threading
import time
import unittest

from harness import (HANG_TIMEOUT, TIME_SCALE, ViasockTestCase, child_pids, fd_count, log, pid_alive,
                     wait_dead, wait_until)

# A line filter with some work per line: answers "n:LINE".
PY_SLOWISH = (
    "import sys, hashlib\n"
    "for line in iter(sys.stdin.buffer.readline, b''):\n"
    "    body = line.rstrip(b'\\n')\n"
    "    for _ in range(20):\n"
    "        hashlib.sha256(body).digest()\n"
    "    sys.stdout.buffer.write(b'n:' + body + b'\\n')\n"
    "    sys.stdout.buffer.flush()\n"
)


def read_exactly(stream, n, timeout):
    """Read n bytes from a pipe within timeout seconds (in a thread)."""
    out = []

    def reader():
        data = b""
        while len(data) < n:
            chunk = os.read(stream.fileno(), n - len(data))
            if not chunk:
                break
            data += chunk
        out.append(data)

    t = threading.Thread(target=reader, daemon=True)
    t.start()
    t.join(timeout)
    return out[0] if out else None


class ToolKilledTest(ViasockTestCase):
    def test_kill_tool_while_client_streams(self):
        starts = self.starts_file()
        env = self.starts_env(starts)
        cmd = ["run", "--pipe"] + self.slowtool("--hang-on", "HANG")
        r = self.run_vs(cmd, b"warm\n", env=env)
        self.assertOk(r)
        tool = self.started_pids(starts)
        self.assertEqual(len(tool), 1)

        p = self.spawn_vs(cmd, env=env)
        p.stdin.write(b"one\n")
        p.stdin.flush()
        self.assertEqual(read_exactly(p.stdout, 4, HANG_TIMEOUT), b"ONE\n")
        # A record in flight: the tool never answers HANG.
        p.stdin.write(b"HANG\n")
        p.stdin.flush()
        time.sleep(0.3)
        t0 = time.monotonic()
        os.kill(tool[0], signal.SIGKILL)
        try:
            # Bounds a hang (a caller never told its tool died), not speed.
            rc = p.wait(timeout=HANG_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.fail("client still running %d s after the tool was killed" % HANG_TIMEOUT)
        elapsed = time.monotonic() - t0
        err = p.stderr.read()
        log("client exit %d after %.2f s; stderr %r" % (rc, elapsed, err))
        self.assertNotEqual(rc, 0)
        self.assertEqual(rc, 128 + 9, "128+N for a tool killed by signal N")
        self.assertIn(b"signal 9", err)

        r = self.run_vs(cmd, b"next\ncall\n", env=env)
        self.assertOk(r, "call after the tool was killed")
        self.assertBytesEqual(r.stdout, b"NEXT\nCALL\n")
        self.assertEqual(len(self.started_pids(starts)), 2, "a new tool instance")


class DaemonKilledTest(ViasockTestCase):
    def test_kill_daemon(self):
        self.assertOk(self.run_vs(["run", "cat"], b"first\n"))
        pids = [self.the_daemon()]
        os.kill(pids[0], signal.SIGKILL)
        self.assertEqual(wait_dead(pids, HANG_TIMEOUT), [], "daemon survived SIGKILL")

        r = self.run_vs(["run", "cat"], b"second\ncall\n")
        self.assertOk(r, "call after the daemon was killed")
        self.assertBytesEqual(r.stdout, b"second\ncall\n")
        new = self.live_daemon_pids()
        self.assertEqual(len(new), 1, new)
        self.assertNotEqual(new[0], pids[0])


class ClientKilledTest(ViasockTestCase):
    def test_kill_streaming_client(self):
        cmd = ["run", "python3", "-c", PY_SLOWISH]
        r = self.run_vs(cmd, b"warm\n")
        self.assertOk(r)
        self.assertEqual(r.stdout, b"n:warm\n")

        p = self.spawn_vs(cmd)
        data = b"".join(b"%d\n" % i for i in range(1, 200001))

        def feed():
            try:
                p.stdin.write(data)
                p.stdin.close()
            except (BrokenPipeError, OSError, ValueError):
                pass

        feeder = threading.Thread(target=feed, daemon=True)
        feeder.start()
        got = read_exactly(p.stdout, 4000, HANG_TIMEOUT)
        self.assertIsNotNone(got, "no answers within %d s" % HANG_TIMEOUT)
        self.assertTrue(got.startswith(b"n:1\nn:2\n"), got[:40])
        p.kill()
        p.wait(timeout=5)
        feeder.join(5)
        p.stdout.close()
        p.stderr.close()

        mine = b"".join(b"next-%d\n" % i for i in range(500))
        expected = b"".join(b"n:next-%d\n" % i for i in range(500))
        for call in range(2):
            r = self.run_vs(cmd, mine, timeout=30)
            self.assertOk(r, "client after the killed one (call %d)" % call)
            self.assertBytesEqual(r.stdout, expected, "answers of call %d" % call)


class EarlyReaderExitTest(ViasockTestCase):
    def test_head_stops_reading(self):
        script = "seq 1 1000000 | '%s' run cat | head -1" % self.bin
        t0 = time.monotonic()
        try:
            r = subprocess.run(["bash", "-c", script], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, cwd=self.tmp, env=self.env,
                               timeout=HANG_TIMEOUT)
        except subprocess.TimeoutExpired:
            # Bounds a hang (viasock never noticing its reader left), not speed.
            self.fail("`seq | viasock run cat | head -1` did not exit within %d s" % HANG_TIMEOUT)
        log("pipeline took %.2f s" % (time.monotonic() - t0))
        self.assertEqual(r.stdout, b"1\n")
        r = self.run_vs(["run", "cat"], b"after head\n")
        self.assertOk(r)
        self.assertEqual(r.stdout, b"after head\n")


class LongPathTest(ViasockTestCase):
    def test_deep_working_directory(self):
        deep = os.path.join(self.tmp, "d" * 60, "e" * 60, "f" * 60)
        os.makedirs(deep)
        state = os.path.join(deep, ".viasock")
        self.state_dirs.append(state)
        for call in range(2):
            data = b"deep call %d\n" % call
            r = self.run_vs(["run", "cat"], data, cwd=deep)
            self.assertOk(r, "call %d" % call)
            self.assertEqual(r.stdout, data)
        socks = self.sockets(state)
        self.assertEqual(len(socks), 1, socks)
        self.assertGreater(len(socks[0].encode()), 108)
        self.assertEqual(len(self.live_daemon_pids(state)), 1)


class UnsafeStateDirTest(ViasockTestCase):
    def test_world_writable_state_dir_refused(self):
        os.mkdir(self.state_dir)
        os.chmod(self.state_dir, 0o777)
        r = self.run_vs(["run", "cat"], b"x\n")
        self.assertEqual(r.returncode, 125, r.stderr)
        self.assertEqual(r.stdout, b"")
        self.assertErrorLine(r, ".viasock")
        self.assertEqual(self.sockets(), [])
        self.assertEqual(self.run_jsons(), {})
        self.assertEqual(self.procs_in_tmp(), [])


class OtherUserTest(ViasockTestCase):
    def test_client_of_other_uid_refused(self):
        # Everything the other user needs is reachable: a copy of the binary,
        # a 0755 directory and a 0777 socket.
        binary = self.other_user_binary()
        sockdir = os.path.join(self.tmp, "sock")
        os.mkdir(sockdir)
        os.chmod(sockdir, 0o755)
        sock = os.path.join(sockdir, "s")
        log_path = os.path.join(self.tmp, "server.log")
        err_path = os.path.join(self.tmp, "server.stderr")
        with open(err_path, "wb") as err:
            server = subprocess.Popen([binary, "server", "-W", "30", "-l", log_path,
                                       sock, "cat"],
                                      stdin=subprocess.DEVNULL, stdout=err, stderr=err,
                                      cwd=self.tmp, env=self.env)
        self.children.append(server)
        self.assertTrue(wait_until(lambda: os.path.exists(sock), timeout=HANG_TIMEOUT),
                        "the server did not create its socket")
        os.chmod(sock, 0o777)

        r = subprocess.run([binary, "client", sock], input=b"mine\n",
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           cwd=self.tmp, env=self.env, timeout=10)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout, b"mine\n")

        r = subprocess.run(["setpriv", "--reuid=nobody", "--regid=nogroup",
                            "--clear-groups", binary, "client", sock],
                           input=b"theirs\n", stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, cwd=self.tmp, env=self.env,
                           timeout=10)
        log("other-uid client: exit %d, stderr %r" % (r.returncode, r.stderr))
        self.assertNotEqual(r.returncode, 0)
        self.assertEqual(r.stdout, b"")

        def logged():
            text = b""
            for path in (log_path, err_path):
                try:
                    with open(path, "rb") as f:
                        text += f.read()
                except OSError:
                    pass
            return text
        self.assertTrue(wait_until(lambda: b"refused" in logged().lower(), timeout=HANG_TIMEOUT),
                        "the daemon does not log the refusal: %r" % logged()[-1000:])
        self.assertIsNone(server.poll(), "the server exited")
        server.kill()
        server.wait(timeout=5)


class HostsSharingStateDirTest(ViasockTestCase):
    def test_two_uts_namespaces(self):
        try:
            probe = subprocess.run(["unshare", "--uts", "sh", "-c", "hostname probe"],
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                   timeout=10)
        except (OSError, subprocess.TimeoutExpired):
            self.skipTest("unshare is not available")
        if probe.returncode != 0:
            self.skipTest("unshare --uts failed: %r" % probe.stderr)

        def call(host, data):
            return subprocess.run(
                ["unshare", "--uts", "sh", "-c",
                 "hostname %s && exec \"$0\" run cat" % host, self.bin],
                input=data, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                cwd=self.tmp, env=self.env, timeout=20)

        for round_ in range(2):
            for host in ("hostA", "hostB"):
                data = b"from %s round %d\n" % (host.encode(), round_)
                r = call(host, data)
                self.assertEqual(r.returncode, 0, "%s: %r" % (host, r.stderr))
                self.assertEqual(r.stdout, data, host)
        runs = self.run_jsons()
        log("run files: %r" % [os.path.basename(p) for p in runs])
        self.assertEqual(len(runs), 2, "one daemon per host: %r" % list(runs))
        self.assertEqual(sorted(d.get("host") for d in runs.values()), ["hostA", "hostB"])
        pids = [d["pid"] for d in runs.values()]
        self.assertEqual(len(set(pids)), 2)
        self.assertTrue(all(pid_alive(p) for p in pids))


class LeakTest(ViasockTestCase):
    def test_300_calls_leak_nothing(self):
        # A third as many with the sanitizers: each of their calls costs a
        # second, and LeakSanitizer checks every process's memory anyway.
        calls = 300 if TIME_SCALE == 1 else 100
        cmd = ["run", "cat"]
        for i in range(10):
            r = self.run_vs(cmd, b"call %d\n" % i)
            self.assertOk(r)
        pids = self.live_daemon_pids()
        self.assertEqual(len(pids), 1)
        daemon = pids[0]
        time.sleep(0.2)
        base = fd_count(daemon)
        self.assertIsNotNone(base)
        # Four at a time, as a `make -j 4` would call it.
        def call(i):
            data = b"call %d\n" % i
            return i, data, self.run_vs(cmd, data)
        with concurrent.futures.ThreadPoolExecutor(4) as pool:
            for i, data, r in pool.map(call, range(10, calls)):
                self.assertOk(r, "call %d" % i)
                self.assertEqual(r.stdout, data)
        self.assertEqual(self.live_daemon_pids(), [daemon], "same daemon")
        wait_until(lambda: fd_count(daemon) == base, timeout=HANG_TIMEOUT)
        after = fd_count(daemon)
        log("daemon fds: %d after 10 calls, %d after %d" % (base, after, calls))
        self.assertEqual(after, base, "descriptors leaked: %r"
                         % sorted(os.listdir("/proc/%d/fd" % daemon)))
        zombies = {p: s for p, s in child_pids(daemon).items() if s == b"Z"}
        self.assertEqual(zombies, {}, "zombie children of the daemon")


if __name__ == "__main__":
    unittest.main()
