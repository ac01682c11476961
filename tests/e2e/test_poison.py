"""Failures stay with their cause: a record that kills the tool fails its own
call, an instance killed from outside fails nobody who had nothing on it, and
with --retry N a record in flight on a dying instance is sent again, so a
poison record fails only the call it came in."""

import os
import signal
import sys
import time
import unittest

from harness import HANG_TIMEOUT, ViasockTestCase, pid_alive, wait_until

# Upper-cases each line after DELAY seconds; a line with POISON kills it
# (SIGKILL, as the OOM killer would). Each start leaves a file named by its
# pid in $STARTS_DIR. It flushes only when FLUSH is set, like most scripts.
POISON_TOOL = r'''
import os, signal, sys, time
open(os.path.join(os.environ["STARTS_DIR"], str(os.getpid())), "w").close()
model = os.environ.get("MODEL")
if model and not os.path.exists(model):
    sys.exit("cannot open the model " + model)
delay = float(os.environ.get("DELAY", "0"))
flush = bool(os.environ.get("FLUSH"))
for line in sys.stdin:
    if "POISON" in line:
        os.kill(os.getpid(), signal.SIGKILL)
    if delay:
        time.sleep(delay)
    sys.stdout.write(line.upper())
    if flush:
        sys.stdout.flush()
'''

KILLED = 128 + signal.SIGKILL


class PoisonTest(ViasockTestCase):
    def setUp(self):
        super().setUp()
        self.tool = self.write_file("poison.py", POISON_TOOL)
        self.starts = self.make_dir("starts")
        self.tool_env = {"STARTS_DIR": self.starts}

    def tool_pids(self):
        return sorted(int(name) for name in os.listdir(self.starts))

    def live_tool_pids(self):
        return [pid for pid in self.tool_pids() if pid_alive(pid)]

    def call(self, options, data, env=None, timeout=60):
        merged = dict(self.tool_env, **(env or {}))
        return self.run_vs(["run", "-W", "60"] + options + [sys.executable, self.tool], input=data,
                           env=merged, timeout=timeout)

    def test_poison_calls_fail_alone_and_the_daemon_goes_on(self):
        """No options: three poison calls in a row each fail with 137 and the
        answers before the poison; a normal call after them works, same
        daemon. (Run directly on a pipe, the tool loses what it buffered
        when killed; the direct run of its flushing variant shows what it
        answered.)"""
        self.assertOk(self.call([], b"warm\n"))
        (daemon,) = self.live_daemon_pids()
        data = b"first\nPOISON\nlast\n"
        direct = self.direct([sys.executable, self.tool], data, env=dict(self.tool_env, FLUSH="1"))
        self.assertEqual(direct.returncode, -signal.SIGKILL)
        self.assertEqual(direct.stdout, b"FIRST\n")
        for i in range(3):
            result = self.call([], data)
            self.assertEqual(result.returncode, KILLED, "poison call %d: %r" % (i, result.stderr))
            self.assertBytesEqual(result.stdout, direct.stdout, "poison call %d" % i)
            self.assertIn(b"killed", result.stderr)
            self.assertEqual(result.stderr.count(b"\n"), 1, result.stderr)
        result = self.call([], b"after\nthe poison\n")
        self.assertOk(result)
        self.assertEqual(result.stdout, b"AFTER\nTHE POISON\n")
        self.assertEqual(self.live_daemon_pids(), [daemon], "the same daemon serves after the poison")

    def test_first_call_poison_on_a_fresh_daemon(self):
        """Poison in the very first call (while the daemon learns the tool)
        fails that call only; the daemon then learns on the next call."""
        result = self.call([], b"POISON\n")
        self.assertEqual(result.returncode, KILLED, result.stderr)
        result = self.call([], b"fine\n")
        self.assertOk(result)
        self.assertEqual(result.stdout, b"FINE\n")

    def test_idle_instance_killed_from_outside_fails_nobody(self):
        """-j 3: an instance killed while it has nothing to do is replaced;
        every call, before and after, succeeds."""
        options = ["--pipe", "-j", "3"]
        env = {"FLUSH": "1"}
        self.assertOk(self.call(options, b"warm\n", env))
        self.assertTrue(wait_until(lambda: len(self.live_tool_pids()) == 3, timeout=HANG_TIMEOUT),
                        "three instances: %r" % self.tool_pids())
        (daemon,) = self.live_daemon_pids()
        victim = self.live_tool_pids()[0]
        os.kill(victim, signal.SIGKILL)
        inputs = [b"".join(b"call %d line %d\n" % (c, i) for i in range(300)) for c in range(6)]
        self.assertCallsUpperCase(lambda data: self.call(options, data, env), inputs, 6)
        self.assertTrue(wait_until(lambda: len(self.live_tool_pids()) == 3, timeout=HANG_TIMEOUT),
                        "a replacement started: %r" % self.tool_pids())
        self.assertNotIn(victim, self.live_tool_pids())
        self.assertEqual(self.live_daemon_pids(), [daemon])

    def streaming_client(self, options, env):
        """A call whose input the test writes in parts."""
        merged = dict(self.tool_env, **env)
        return self.spawn_vs(["run", "-W", "60"] + options + [sys.executable, self.tool], env=merged)

    def test_retry_fails_only_the_poison_client(self):
        """--retry 1: a poison record among another client's records kills
        the instance they share; the other client's records in flight are
        sent again and its call succeeds, the poison call fails with 137."""
        env = {"FLUSH": "1", "DELAY": "0.002"}
        options = ["--pipe", "--retry", "1"]
        self.assertOk(self.call(options, b"warm\n", env))
        (daemon,) = self.live_daemon_pids()
        for round in range(3):
            lines = [b"round %d line %d\n" % (round, i) for i in range(600)]
            other = self.streaming_client(options, env)
            # The other client's records reach the tool before the poison,
            # and keep coming while it dies.
            other.stdin.write(b"".join(lines[:200]))
            other.stdin.flush()
            time.sleep(0.1)
            poison = self.call(options, b"a\nPOISON\nb\n", env)
            try:
                out, err = other.communicate(b"".join(lines[200:]), timeout=60)
            except Exception:
                self.fail("the other client did not finish within 60 s")
            self.assertEqual(poison.returncode, KILLED, "round %d: %r" % (round, poison.stderr))
            self.assertEqual(other.returncode, 0, "round %d: the other client failed: %r" % (round, err))
            self.assertBytesEqual(out, b"".join(lines).upper(), "round %d: the other client" % round)
        self.assertEqual(self.live_daemon_pids(), [daemon])
        result = self.call(options, b"after\n", env)
        self.assertOk(result)
        self.assertEqual(result.stdout, b"AFTER\n")

    def test_retry_gives_up_after_n_plus_one_deaths(self):
        """--retry 2: the poison record kills the tool three times, then its
        call fails; the tool was started once more per death."""
        env = {"FLUSH": "1"}
        options = ["--pipe", "--retry", "2"]
        self.assertOk(self.call(options, b"warm\n", env))
        before = len(self.tool_pids())
        result = self.call(options, b"one\nPOISON\n", env)
        self.assertEqual(result.returncode, KILLED, result.stderr)
        self.assertIn(b"it died 3 times with these records in flight (--retry)", result.stderr)
        self.assertEqual(result.stdout, b"ONE\n")
        self.assertTrue(wait_until(lambda: len(self.tool_pids()) == before + 3, timeout=HANG_TIMEOUT),
                        "%d starts after the warm call's %d" % (len(self.tool_pids()), before))
        self.assertOk(self.call(options, b"fine\n", env))

    def test_crash_loop_backs_off_and_ends_with_one_error(self):
        """The model is deleted under a running daemon (through a variable
        that is not part of the ID) and its instance dies: every new start
        fails, ever more slowly, until the daemon gives up with one clear
        error and exits, instead of restarting the tool forever."""
        model = os.path.join(self.tmp, "model.bin")
        open(model, "w").close()
        env = {"FLUSH": "1", "MODEL": model}
        self.assertOk(self.call(["--pipe"], b"warm\n", env))
        (daemon,) = self.live_daemon_pids()
        (instance,) = self.live_tool_pids()
        os.unlink(model)
        os.kill(instance, signal.SIGKILL)
        self.assertTrue(wait_until(lambda: not pid_alive(daemon), timeout=HANG_TIMEOUT), "the daemon kept restarting")
        starts = len(self.tool_pids())
        self.assertGreaterEqual(starts, 1 + 4, "it tried again before giving up")
        self.assertLessEqual(starts, 1 + 6)
        log = open(os.path.join(self.state_dir, "logs", os.listdir(os.path.join(self.state_dir, "logs"))[0])).read()
        self.assertIn("keeps failing at start-up", log)
        self.assertIn("cannot open the model", log)
        # The next call starts a new daemon, whose tool cannot start: a loud
        # error naming the cause, not a hang.
        result = self.call(["--pipe"], b"x\n", env, timeout=30)
        self.assertNotEqual(result.returncode, 0)
        self.assertIn(b"cannot open the model", result.stderr)


if __name__ == "__main__":
    unittest.main()
