"""Every live daemon stays findable and every dead one is cleaned: a daemon
removes only its own files, leaves when its socket goes, refuses to run
unregistered, is never replaced while it lives, and ends gracefully on the
usual signals."""

import fcntl
import json
import os
import select
import signal
import time
import unittest

from harness import HANG_TIMEOUT, ViasockTestCase, log, pid_alive, proc_state, wait_dead, wait_until


class FindableTestCase(ViasockTestCase):
    def the_id(self):
        [path] = self.sockets()
        return os.path.basename(path)


class SocketGoneTest(FindableTestCase):
    def test_daemon_leaves_when_its_socket_is_removed(self):
        cmd = ["run", "-W", "0", "cat"]
        self.assertOk(self.run_vs(cmd, b"a\n"))
        old = self.the_daemon()
        [path] = self.sockets()
        os.unlink(path)
        t0 = time.monotonic()
        self.assertEqual(wait_dead([old], HANG_TIMEOUT), [], "a daemon without its socket must exit")
        log("daemon exited %.2f s after its socket was removed" % (time.monotonic() - t0))
        self.assertEqual(self.run_jsons(), {}, "it removes its own run/<ID>.json")

        r = self.run_vs(cmd, b"b\n")
        self.assertOk(r)
        self.assertEqual(r.stdout, b"b\n")
        new = self.the_daemon()
        listed = self.run_vs(["list", "--json"])
        self.assertOk(listed)
        self.assertEqual([d["pid"] for d in json.loads(listed.stdout)], [new])
        self.assertOk(self.run_vs(["stop", "--all"]))
        self.assertEqual(wait_dead([new], HANG_TIMEOUT), [])

    def test_exiting_daemon_spares_a_successors_metadata(self):
        cmd = ["run", "-W", "0", "cat"]
        self.assertOk(self.run_vs(cmd, b"a\n"))
        old = self.the_daemon()
        daemon_id = self.the_id()
        run_json = os.path.join(self.state_dir, "run", daemon_id + ".json")
        # Holding the per-ID lock as a spawning client would: the daemon may
        # not block on it, and must still leave.
        lock = os.open(os.path.join(self.state_dir, "locks", daemon_id + ".lock"), os.O_RDWR)
        try:
            fcntl.flock(lock, fcntl.LOCK_EX)
            os.unlink(os.path.join(self.state_dir, "sockets", daemon_id))
            # A successor registered itself meanwhile.
            with open(run_json) as f:
                successor = json.load(f)
            successor["pid"] = os.getpid()
            with open(run_json + ".tmp", "w") as f:
                json.dump(successor, f)
            os.rename(run_json + ".tmp", run_json)
            self.assertEqual(wait_dead([old], HANG_TIMEOUT), [], "the daemon must exit while the lock is held")
        finally:
            os.close(lock)
        with open(run_json) as f:
            self.assertEqual(json.load(f)["pid"], os.getpid(), "another daemon's run/<ID>.json was removed")
        os.unlink(run_json)


class UnregisteredTest(FindableTestCase):
    def test_daemon_that_cannot_register_does_not_start(self):
        cmd = ["run", "-W", "0", "cat"]
        self.assertOk(self.run_vs(cmd, b"a\n"))
        old = self.the_daemon()
        daemon_id = self.the_id()
        self.assertOk(self.run_vs(["stop", "--all"]))
        self.assertEqual(wait_dead([old], HANG_TIMEOUT), [])
        os.mkdir(os.path.join(self.state_dir, "run", daemon_id + ".json"))
        r = self.run_vs(cmd, b"b\n")
        log("unregistrable daemon: exit %d, %r" % (r.returncode, r.stderr))
        self.assertEqual(r.returncode, 125)
        self.assertErrorLine(r, "cannot write", daemon_id + ".json")
        self.assertEqual(self.sockets(), [], "no socket of a daemon that did not start")
        self.assertTrue(wait_until(lambda: not self.procs_in_tmp(), timeout=HANG_TIMEOUT),
                        "no daemon or tool left running: %r" % self.procs_in_tmp())


class StoppedDaemonTest(FindableTestCase):
    def test_stopped_daemon_is_named_never_replaced(self):
        cmd = ["run", "-W", "0", "cat"]
        self.assertOk(self.run_vs(cmd, b"a\n"))
        daemon = self.the_daemon()
        [path] = self.sockets()
        os.kill(daemon, signal.SIGSTOP)
        try:
            t0 = time.monotonic()
            r = self.run_vs(cmd, b"b\n", timeout=2 * HANG_TIMEOUT)
            elapsed = time.monotonic() - t0
            log("call to a stopped daemon: exit %d after %.1f s: %r" % (r.returncode, elapsed, r.stderr))
            self.assertEqual(r.returncode, 125)
            self.assertErrorLine(r, "daemon pid %d" % daemon, path, "does not answer")
            # Bounds a hang (waiting forever on a daemon that never answers), not speed.
            self.assertLess(elapsed, HANG_TIMEOUT)
            self.assertEqual(self.sockets(), [path], "the socket of a live daemon stays")
            self.assertEqual(self.daemon_pids(), [daemon], "no second daemon beside a live one")
        finally:
            os.kill(daemon, signal.SIGCONT)
        r = self.run_vs(cmd, b"c\n")
        self.assertOk(r)
        self.assertEqual(r.stdout, b"c\n")
        self.assertEqual(self.the_daemon(), daemon)


class SignalsTest(FindableTestCase):
    def stream_through_signal(self, signum):
        cmd = ["run", "-W", "0", "cat"]
        self.assertOk(self.run_vs(cmd, b"warm\n"))
        daemon = self.the_daemon()
        p = self.spawn_vs(cmd)
        # The stream is under way (its first answer arrived) when the signal comes.
        p.stdin.write(b"first\n")
        p.stdin.flush()
        ready, _, _ = select.select([p.stdout], [], [], 30)
        self.assertTrue(ready, "no first answer")
        self.assertEqual(p.stdout.readline(), b"first\n")
        self.assertEqual(self.live_daemon_pids(), [daemon], "the stream goes to the running daemon")
        os.kill(daemon, signum)
        expected = b""
        for i in range(200):
            line = b"line %d\n" % i
            p.stdin.write(line)
            expected += line
        p.stdin.flush()
        time.sleep(0.3)
        out, err = p.communicate(timeout=HANG_TIMEOUT)
        self.assertEqual(p.returncode, 0, err)
        self.assertEqual(out, expected)
        self.assertEqual(wait_dead([daemon], HANG_TIMEOUT), [], "the daemon exits after its last client")
        self.assertEqual(self.sockets(), [])
        self.assertEqual(self.run_jsons(), {})
        [log_path] = [os.path.join(self.state_dir, "logs", n) for n in os.listdir(
            os.path.join(self.state_dir, "logs")) if n.endswith(".log")]
        with open(log_path, "rb") as f:
            self.assertIn(b"stopping: received", f.read())

    def test_sighup_during_a_stream(self):
        self.stream_through_signal(signal.SIGHUP)

    def test_sigquit_during_a_stream(self):
        self.stream_through_signal(signal.SIGQUIT)

    def test_sigusr1_and_sigusr2_are_ignored(self):
        cmd = ["run", "-W", "0", "cat"]
        self.assertOk(self.run_vs(cmd, b"warm\n"))
        daemon = self.the_daemon()
        os.kill(daemon, signal.SIGUSR1)
        os.kill(daemon, signal.SIGUSR2)
        time.sleep(0.3)
        self.assertTrue(pid_alive(daemon))
        r = self.run_vs(cmd, b"still here\n")
        self.assertOk(r)
        self.assertEqual(self.the_daemon(), daemon)


if __name__ == "__main__":
    unittest.main()
