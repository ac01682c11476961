"""One start: learning a tool costs no second instance. With the default
-j 1, no two instances of the tool are ever alive at once, learning
included; a tool that flushes on a pipe starts once per daemon, and a
buffering tool's first call is its direct run."""

import concurrent.futures
import glob
import json
import os
import threading
import time
import unittest

from harness import (HANG_TIMEOUT, TIME_SCALE, ViasockTestCase, child_pids, have, pid_alive,
                     wait_dead, wait_until)

# Each records its pid at start in $STARTS, as a model-loading tool would
# be counted by its users ("the model loaded once").
FLUSHING = ("import os, sys\n"
            "open(os.environ['STARTS'], 'a').write('%d\\n' % os.getpid())\n"
            "for line in sys.stdin:\n"
            "    print(line.strip().upper(), flush=True)\n")
BUFFERING = ("import os, sys\n"
             "open(os.environ['STARTS'], 'a').write('%d\\n' % os.getpid())\n"
             "for line in sys.stdin:\n"
             "    print(line.strip().upper())\n")


class AliveSampler:
    """Counts the live children of every daemon of a test every 20 ms:
    the tool instances. Zombies count as exited."""

    def __init__(self, case):
        self.case = case
        self.most = 0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)

    def run(self):
        while not self.stop.is_set():
            alive = 0
            for pid in self.case.daemon_pids():
                alive = max(alive, sum(1 for s in child_pids(pid).values() if s != b"Z"))
            self.most = max(self.most, alive)
            self.stop.wait(0.02)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join(timeout=5)


class OneStartTest(ViasockTestCase):

    def tool(self, name, source):
        path = self.write_file(name, "#!/usr/bin/env python3\n" + source)
        os.chmod(path, 0o755)
        return path

    def env_with_starts(self):
        starts = self.starts_file()
        return starts, {"STARTS": starts}

    def direct_elsewhere(self, tool, data, env):
        """The direct run, its start recorded apart from viasock's."""
        if env:
            env = dict(env, STARTS=os.path.join(self.tmp, "direct-starts"))
        return self.direct(tool, data, env=env)

    def calls(self, tool, env, n=6):
        data = b"one\ntwo\nthree\n"
        expected = self.direct_elsewhere(tool, data, env)
        for i in range(n):
            r = self.run_vs(["run"] + tool, data, env=env)
            self.assertOk(r, "call %d" % i)
            self.assertBytesEqual(r.stdout, expected.stdout, "call %d" % i)

    def concurrent_first_calls(self, tool, env, n=16):
        datas = [b"caller %d\nline %d\n" % (i, i) for i in range(n)]
        with concurrent.futures.ThreadPoolExecutor(n) as pool:
            results = list(pool.map(lambda d: self.run_vs(["run"] + tool, d, env=env), datas))
        for data, r in zip(datas, results):
            self.assertOk(r)
            self.assertBytesEqual(r.stdout, self.direct_elsewhere(tool, data, env).stdout)

    def stop_all(self):
        pids = self.live_daemon_pids()
        self.assertOk(self.run_vs(["stop", "--all"]))
        self.assertEqual(wait_dead(pids, timeout=HANG_TIMEOUT), [], "daemons did not exit")

    def test_a_flushing_tool_starts_once_per_daemon(self):
        tool = [self.tool("flush.py", FLUSHING)]
        starts, env = self.env_with_starts()
        with AliveSampler(self) as sampler:
            self.calls(tool, env)
            self.assertEqual(len(self.started_pids(starts)), 1, "six calls in a row")
            self.stop_all()
            self.concurrent_first_calls(tool, env)
            self.assertEqual(len(self.started_pids(starts)), 2, "16 simultaneous first calls")
            self.stop_all()
            # After an idle exit, the next daemon starts it once again.
            self.assertOk(self.run_vs(["run", "-W", "1"] + tool, b"x\n", env=env))
            pids = self.live_daemon_pids()
            self.assertEqual(wait_dead(pids, timeout=HANG_TIMEOUT), [], "idle daemon did not exit")
            self.assertOk(self.run_vs(["run"] + tool, b"y\n", env=env))
            self.assertEqual(len(self.started_pids(starts)), 4)
        self.assertEqual(sampler.most, 1, "two instances of the tool were alive at once")

    def wait_learned(self):
        """Until the running daemon has learned the tool (a buffering tool's
        terminal instance starts after the first call)."""
        def learned():
            r = self.run_vs(["list", "--json"])
            return r.returncode == 0 and any(d.get("learning_done") for d in json.loads(r.stdout))
        self.assertTrue(wait_until(learned, timeout=HANG_TIMEOUT), "learning did not end")

    def test_a_buffering_tool_is_never_alive_twice_and_learned_once(self):
        tool = [self.tool("buffer.py", BUFFERING)]
        starts, env = self.env_with_starts()
        with AliveSampler(self) as sampler:
            self.calls(tool, env)
            # The first call is its direct run; then one instance serves.
            self.assertEqual(len(self.started_pids(starts)), 2, "six calls in a row")
            self.wait_learned()
            self.stop_all()
            # A later daemon of the same ID starts from what was learned.
            self.concurrent_first_calls(tool, env)
            self.assertEqual(len(self.started_pids(starts)), 3, "16 simultaneous first calls")
            (entry,) = json.loads(self.run_vs(["list", "--json"]).stdout)
            self.assertTrue(entry["remembered"], entry)
            self.assertIn("--pty", entry["learned"])
            self.stop_all()
            self.assertOk(self.run_vs(["run", "-W", "1"] + tool, b"x\n", env=env))
            self.assertEqual(wait_dead(self.live_daemon_pids(), timeout=HANG_TIMEOUT), [])
            self.assertOk(self.run_vs(["run"] + tool, b"y\n", env=env))
            self.assertEqual(len(self.started_pids(starts)), 5, "one start per later daemon")
        self.assertEqual(sampler.most, 1, "two instances of the tool were alive at once")

    def test_a_first_call_whose_input_comes_in_pieces(self):
        # The first call of a buffering tool is its direct run; records that
        # arrive after the first must still reach it (and its input close).
        p = self.spawn_vs(["run", "sed", "s/a/X/"])
        for piece in (b"a\n", b"b\n", b"ca\n"):
            p.stdin.write(piece)
            p.stdin.flush()
            time.sleep(0.2)
        p.stdin.close()
        self.assertEqual(p.stdout.read(), b"X\nb\ncX\n")
        self.assertEqual(p.wait(timeout=30 * TIME_SCALE), 0, p.stderr.read())

    def test_a_tool_that_exits_after_its_first_answer(self):
        # A direct run of it prints one answer and exits 3: so does the
        # first call, and every later one (each learns again).
        tool = [self.tool("once.py", "import sys\nprint(sys.stdin.readline().strip(), flush=True)\nsys.exit(3)\n")]
        expected = self.direct(tool, b"a\nb\n")
        self.assertEqual(expected.returncode, 3)
        for i in range(2):
            r = self.run_vs(["run"] + tool, b"a\nb\n")
            self.assertEqual(r.returncode, 3, r.stderr)
            self.assertBytesEqual(r.stdout, expected.stdout, "call %d" % i)

    def test_a_first_call_killed_during_its_direct_run(self):
        # The caller of a direct run is gone: the tool sees the end of its
        # input at once, as it would in a pipeline, and the daemon goes on.
        tool = [self.tool("buffer.py", BUFFERING)]
        starts, env = self.env_with_starts()
        p = self.spawn_vs(["run"] + tool, env=env)
        p.stdin.write(b"one\n")
        p.stdin.flush()

        def direct_run_begun():
            logs = glob.glob(os.path.join(self.state_dir, "logs", "*.log"))
            return logs and b"as a direct run" in open(logs[0], "rb").read()
        # Killed before that, the call leaves a daemon with its tool loaded.
        self.assertTrue(wait_until(direct_run_begun, timeout=HANG_TIMEOUT), "no direct run began")
        first = self.started_pids(starts)[0]
        p.kill()
        p.wait(timeout=10)
        self.assertEqual(wait_dead([first], timeout=HANG_TIMEOUT), [], "the direct run's tool kept running")
        r = self.run_vs(["run"] + tool, b"two\n", env=env)
        self.assertOk(r)
        self.assertEqual(r.stdout, b"TWO\n")

    def test_concurrent_callers_of_a_tool_with_answers_of_varying_length(self):
        # sed answers a record with "x" in it with two lines; grep answers
        # 0 or 1 line: each caller gets exactly its direct run's bytes.
        def data(i):
            return b"".join(b"c%d l%d%s\n" % (i, j, b" x y" if (j * 7 + i) % 11 == 0 else b"")
                            for j in range(200))
        for tool in (["sed", "-u", "s/x/\\n/"], ["grep", "--line-buffered", "x"]):
            # Learned on a call whose first record has an answer: a tool
            # whose first record gets none (grep) cannot be told from one
            # that answers only at the end of its input (sort).
            self.assertOk(self.run_vs(["run"] + tool, data(0)))
            with concurrent.futures.ThreadPoolExecutor(10) as pool:
                results = list(pool.map(lambda i: self.run_vs(["run"] + tool, data(i)), range(10)))
            for i, r in enumerate(results):
                self.assertOk(r, "%s, caller %d" % (tool[0], i))
                self.assertBytesEqual(r.stdout, self.direct(tool, data(i)).stdout, "%s, caller %d" % (tool[0], i))

    def test_a_changed_tool_is_learned_afresh(self):
        # Learned as a flushing tool, then replaced by one that buffers with
        # the same size and modification time: the change time gives it a
        # new ID, which learns again; no call gets other bytes.
        flushing = FLUSHING.replace("print(line.strip().upper(), flush=True)",
                                    "print(line.strip().upper(), flush=1==1)")
        buffering = BUFFERING.replace("print(line.strip().upper())",
                                      "print(line.strip().upper(), flush=1==0)")
        self.assertEqual(len(flushing), len(buffering))
        tool = [self.tool("tool.py", flushing)]
        starts, env = self.env_with_starts()
        self.calls(tool, env, n=2)
        self.wait_learned()
        self.stop_all()
        stat = os.stat(tool[0])
        self.tool("tool.py", buffering)
        os.utime(tool[0], ns=(stat.st_atime_ns, stat.st_mtime_ns))
        self.calls(tool, env, n=3)
        self.assertEqual(self.run_vs(["list", "--json"]).stdout.count(b'"id"'), 1, "one daemon, of the new ID")

    def test_prune_removes_what_was_learned(self):
        tool = [self.tool("flush.py", FLUSHING)]
        starts, env = self.env_with_starts()
        self.calls(tool, env, n=1)
        self.wait_learned()
        self.stop_all()
        learned = glob.glob(os.path.join(self.state_dir, "logs", "*.learned"))
        self.assertEqual(len(learned), 1)
        self.assertOk(self.run_vs(["prune", "--older-than", "0"]))
        self.assertFalse(os.path.exists(learned[0]))

    @unittest.skipUnless(have("mawk"), "mawk is not installed")
    def test_a_stateful_tool_gets_one_instance_per_call_never_two_alive(self):
        tool = ["mawk", "{print NR\": \"$0}"]
        with AliveSampler(self) as sampler:
            self.calls(tool, None)
            self.concurrent_first_calls(tool, None, n=6)
        self.assertEqual(sampler.most, 1, "two instances of the tool were alive at once")

    def test_a_tool_that_holds_its_last_word_gives_the_direct_bytes(self):
        # A look-ahead tool keeps state: after the first call (which fails
        # loudly if it cannot be completed) every call is a direct run.
        tool = [self.tool("hold.py", "import sys\nheld = None\nfor line in sys.stdin:\n"
                          "    for w in line.split():\n"
                          "        if held is not None: print(held, flush=True)\n"
                          "        held = w\n"
                          "if held is not None: print(held, flush=True)\n")]
        data = b"walks cats\n"
        expected = self.direct(tool, data)
        first = self.run_vs(["run"] + tool, data)
        if first.returncode == 0:
            self.assertBytesEqual(first.stdout, expected.stdout)
        else:
            self.assertErrorLine(first)
        for i in range(3):
            r = self.run_vs(["run"] + tool, data)
            self.assertOk(r)
            self.assertBytesEqual(r.stdout, expected.stdout, "call %d" % i)

    def test_answers_of_varying_length_are_not_shifted(self):
        # sed answers "d x e" with two lines: lock-step keeps every call's
        # bytes its own, or the call fails loudly.
        data = b"a\nb\nc\nd x e\nf\ng\n"
        tool = ["sed", "-u", "s/x/\\n/"]
        expected = self.direct(tool, data)
        for i in range(5):
            r = self.run_vs(["run"] + tool, data)
            if r.returncode == 0:
                self.assertBytesEqual(r.stdout, expected.stdout, "call %d" % i)
            else:
                self.assertErrorLine(r)
        self.assertOk(r, "the last call")


if __name__ == "__main__":
    unittest.main()
