"""Managing daemons: list, stop, prune, --no-spawn, identity from --watch
and --env, -L for tools that buffer their output, the man page, and the
examples Makefile."""

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import unittest

from harness import HANG_TIMEOUT, REPO, ViasockTestCase, have, log, pid_alive, wait_dead, wait_until


class ListStopTest(ViasockTestCase):
    def test_list_json_and_stop_all(self):
        r = self.run_vs(["run", "cat"], b"abc\n")
        self.assertOk(r)
        self.assertEqual(r.stdout, b"abc\n")
        r = self.run_vs(["run", "-L", "tr", "a-z", "A-Z"], b"abc\n")
        self.assertOk(r)
        self.assertEqual(r.stdout, b"ABC\n")

        r = self.run_vs(["list", "--json"])
        self.assertOk(r, "viasock list --json")
        import json
        entries = json.loads(r.stdout.decode())
        self.assertIsInstance(entries, list)
        self.assertEqual(len(entries), 2, entries)
        tools = sorted((os.path.basename(e["tool"]), e.get("args")) for e in entries)
        self.assertEqual(tools, [("cat", []), ("tr", ["a-z", "A-Z"])])
        for e in entries:
            self.assertTrue(e.get("running"), e)
            self.assertTrue(pid_alive(e["pid"]), e)
        pids = [e["pid"] for e in entries]
        self.assertEqual(sorted(pids), sorted(self.daemon_pids()))

        r = self.run_vs(["stop", "--all"])
        self.assertOk(r, "viasock stop --all")
        self.assertEqual(wait_dead(pids, timeout=HANG_TIMEOUT), [], "daemons alive after stop --all")
        self.assertTrue(wait_until(lambda: not self.sockets(), timeout=HANG_TIMEOUT),
                        "sockets left: %r" % self.sockets())
        r = self.run_vs(["list", "--json"])
        self.assertOk(r)
        self.assertEqual(json.loads(r.stdout.decode()), [])


class IdentityTest(ViasockTestCase):
    def ids(self):
        return {d.get("id") for d in self.run_jsons().values()}

    def test_watch_file_change_gives_new_daemon(self):
        watched = os.path.join(self.tmp, "model.bin")
        with open(watched, "wb") as f:
            f.write(b"model v1\n")
        cmd = ["run", "--watch", "model.bin", "cat"]
        r = self.run_vs(cmd, b"one\n")
        self.assertOk(r)
        first = self.ids()
        self.assertEqual(len(first), 1)
        r = self.run_vs(cmd, b"two\n")
        self.assertOk(r)
        self.assertEqual(self.ids(), first, "same watched file: same daemon")

        st = os.stat(watched)
        os.utime(watched, ns=(st.st_atime_ns, st.st_mtime_ns + 5 * 10**9))
        r = self.run_vs(cmd, b"three\n")
        self.assertOk(r)
        self.assertEqual(r.stdout, b"three\n")
        new = self.ids() - first
        self.assertEqual(len(new), 1, "a new daemon after the watched file changed: %r"
                         % self.ids())

    def test_model_replaced_with_same_size_and_mtime_gives_new_daemon(self):
        """cp -p of another model of the same size, then touch -r to put the
        old mtime back: size and mtime say nothing changed, the change time
        does, and the next call gets a fresh daemon with the new model."""
        tool = self.write_file("tag.py",
                               "#!%s\n"
                               "import sys\n"
                               "with open(sys.argv[1]) as f:\n"
                               "    model = f.read().strip()\n"
                               "for line in sys.stdin:\n"
                               "    print(model + ':' + line, end='', flush=True)\n"
                               % sys.executable)
        os.chmod(tool, 0o755)
        model = self.write_file("model.bin", "modelA\n")
        other = self.write_file("other.bin", "modelB\n")
        stamp = self.write_file("stamp", "")
        cmd = ["run", "./tag.py", "model.bin"]
        r = self.run_vs(cmd, b"x\n")
        self.assertOk(r)
        self.assertEqual(r.stdout, b"modelA:x\n")
        first = self.ids()
        self.assertEqual(len(first), 1)
        old_pids = self.live_daemon_pids()
        r = self.run_vs(cmd, b"y\n")
        self.assertOk(r)
        self.assertEqual(r.stdout, b"modelA:y\n")
        self.assertEqual(self.ids(), first, "an unchanged model: the same daemon")

        before = os.stat(model)
        self.shell_ok(["touch", "-r", model, stamp])
        self.shell_ok(["cp", "-p", other, model])
        self.shell_ok(["touch", "-r", stamp, model])
        after = os.stat(model)
        # What the ID held before this change is all the same.
        self.assertEqual((after.st_size, after.st_mtime_ns), (before.st_size, before.st_mtime_ns))
        r = self.run_vs(cmd, b"z\n")
        self.assertOk(r)
        self.assertEqual(r.stdout, b"modelB:z\n")
        self.assertEqual(len(self.ids() - first), 1,
                         "a new daemon after the model was replaced: %r" % self.ids())
        # The old daemon sees its ID is stale (it looks every second) and exits.
        self.assertEqual(wait_dead(old_pids, timeout=HANG_TIMEOUT), [], "the stale daemon is still running")

    def shell_ok(self, argv):
        try:
            r = subprocess.run(argv, capture_output=True, cwd=self.tmp, env=self._env(None), timeout=HANG_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.fail("%r did not finish within %d s" % (argv, HANG_TIMEOUT))
        self.assertEqual(r.returncode, 0, "%r failed: %r" % (argv, r.stderr))

    def test_env_value_change_gives_new_daemon(self):
        cmd = ["run", "--env", "VIASOCK_E2E_MODEL", "cat"]
        r = self.run_vs(cmd, b"one\n", env={"VIASOCK_E2E_MODEL": "small"})
        self.assertOk(r)
        first = self.ids()
        self.assertEqual(len(first), 1)
        r = self.run_vs(cmd, b"two\n", env={"VIASOCK_E2E_MODEL": "small"})
        self.assertOk(r)
        self.assertEqual(self.ids(), first, "same value: same daemon")
        r = self.run_vs(cmd, b"three\n", env={"VIASOCK_E2E_MODEL": "large"})
        self.assertOk(r)
        self.assertEqual(r.stdout, b"three\n")
        self.assertEqual(len(self.ids() - first), 1,
                         "a new daemon for a new value: %r" % self.ids())


class NoSpawnTest(ViasockTestCase):
    def test_no_spawn_without_daemon(self):
        r = self.run_vs(["run", "--no-spawn", "cat"], b"x\n")
        self.assertEqual(r.returncode, 125, r.stderr)
        self.assertEqual(r.stdout, b"")
        self.assertErrorLine(r)
        self.assertEqual(self.run_jsons(), {})
        self.assertEqual(self.sockets(), [])
        self.assertEqual(self.procs_in_tmp(), [])

    def test_no_spawn_with_daemon(self):
        r = self.run_vs(["run", "cat"], b"x\n")
        self.assertOk(r)
        r = self.run_vs(["run", "--no-spawn", "cat"], b"y\n")
        self.assertOk(r)
        self.assertEqual(r.stdout, b"y\n")


class LineBufferedTest(ViasockTestCase):
    def test_buffering_tools(self):
        cases = [(["tr", "a-z", "A-Z"], b"ABC\n")]
        if have("rev"):
            cases.append((["rev"], b"cba\n"))
        for tool, expected in cases:
            with self.subTest(tool=tool[0]):
                for call in range(2):
                    r = self.run_vs(["run", "-L"] + tool, b"abc\n", timeout=HANG_TIMEOUT)
                    self.assertOk(r)
                    self.assertEqual(r.stdout, expected, "call %d" % call)


class PruneTest(ViasockTestCase):
    def test_prune_after_kill(self):
        r = self.run_vs(["run", "cat"], b"x\n")
        self.assertOk(r)
        runs = self.run_jsons()
        self.assertEqual(len(runs), 1)
        (run_path, data), = runs.items()
        socks = self.sockets()
        self.assertEqual(len(socks), 1)
        os.kill(data["pid"], signal.SIGKILL)
        self.assertEqual(wait_dead([data["pid"]], HANG_TIMEOUT), [])
        self.assertTrue(os.path.exists(run_path))
        self.assertTrue(os.path.exists(socks[0]))

        r = self.run_vs(["prune"])
        self.assertOk(r, "viasock prune")
        self.assertFalse(os.path.exists(socks[0]), "socket left after prune")
        self.assertFalse(os.path.exists(run_path), "run json left after prune")

        r = self.run_vs(["run", "cat"], b"after prune\n")
        self.assertOk(r)
        self.assertEqual(r.stdout, b"after prune\n")

    def test_a_reused_pid_is_not_taken_for_the_daemon(self):
        # The daemon was killed with -9 and its pid went to another process
        # (here: the metadata is made to name a process started after it).
        self.assertOk(self.run_vs(["run", "cat"], b"x\n"))
        (run_path, data), = self.run_jsons().items()
        os.kill(data["pid"], signal.SIGKILL)
        self.assertEqual(wait_dead([data["pid"]], HANG_TIMEOUT), [])
        time.sleep(3.5)  # the daemon's registration time is in whole seconds: start clearly later
        stranger = subprocess.Popen(["sleep", "60"])
        self.extra_pids.append(stranger.pid)
        data["pid"] = stranger.pid
        with open(run_path, "w") as f:
            json.dump(data, f)
        listed = json.loads(self.run_vs(["list", "--json"]).stdout)
        self.assertEqual([(e["pid"], e["running"]) for e in listed], [(stranger.pid, False)])
        r = self.run_vs(["stop", "--all"])
        self.assertOk(r, "stop --all")
        self.assertNotIn(str(stranger.pid).encode(), r.stderr)
        self.assertOk(self.run_vs(["prune"]))
        self.assertEqual(self.run_jsons(), {})
        self.assertIsNone(stranger.poll(), "a process that is not the daemon was signalled")
        stranger.kill()
        stranger.wait(timeout=10)


class LogsFollowTest(ViasockTestCase):
    def test_follow_keeps_every_line_across_several_rotations(self):
        # Each record makes the tool write 20 KB to stderr, which the daemon
        # logs: 120 records rotate the 1 MiB log twice or more between two
        # of the follower's looks.
        tool = ["python3", self.write_file("noisy.py", "import sys\n"
                                                       "for line in sys.stdin:\n"
                                                       "    n = line.strip()\n"
                                                       "    for i in range(40):\n"
                                                       "        sys.stderr.write('burst %s part %d ' % (n, i) + 'x' * 480 + '\\n')\n"
                                                       "    sys.stderr.flush()\n"
                                                       "    print(line, end='', flush=True)\n")]
        self.assertOk(self.run_vs(["run", "--quiet-tool", "-W", "60"] + tool, b"warm\n"))
        [data] = self.run_jsons().values()
        follower = self.spawn_vs(["logs", "-f", data["id"][:12]], stdin=subprocess.DEVNULL)
        time.sleep(0.5)  # the follower is past what was logged before
        records = b"".join(b"%d\n" % i for i in range(120))
        self.assertOk(self.run_vs(["run", "--quiet-tool", "-W", "60"] + tool, records))
        self.assertOk(self.run_vs(["stop", "--all"]))
        out, _ = follower.communicate(timeout=30)
        seen = set()
        for line in out.split(b"\n"):
            fields = line.split(b"burst ", 1)
            if len(fields) == 2 and b" part " in fields[1]:
                seen.add(fields[1].split(b" x")[0].split(b"x")[0].strip())
        missing = [(n, i) for n in range(120) for i in range(40)
                   if b"%d part %d" % (n, i) not in seen]
        self.assertEqual(missing[:5], [], "%d of 4,800 lines missing" % len(missing))


class ManPageTest(ViasockTestCase):
    def test_man_page_renders(self):
        if not have("man"):
            self.skipTest("man is missing")
        page = os.path.join(REPO, "man", "viasock.1")
        env = self._env({"MANWIDTH": "80", "MANPAGER": "cat", "PAGER": "cat",
                         "LC_ALL": "C"})
        r = subprocess.run(["man", "-l", page], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, env=env, timeout=30)
        self.assertEqual(r.returncode, 0, r.stderr)
        text = re.sub(rb".\x08", b"", r.stdout)
        self.assertIn(b"EXIT STATUS", text)
        for code in (b"127", b"126", b"125", b"124"):
            self.assertIn(code, text)
        self.assertNotIn(b"warning", r.stderr.lower(), r.stderr)


class ExamplesTest(ViasockTestCase):
    def test_examples_makefile(self):
        if not have("make"):
            self.skipTest("make is missing")
        # A private copy, so the build folder stays inside the test's directory.
        examples = os.path.join(self.tmp, "examples")
        shutil.copytree(os.path.join(REPO, "examples"), examples,
                        ignore=shutil.ignore_patterns("build"))
        self.state_dirs.append(os.path.join(examples, "build", "viasock-state"))
        try:
            r = subprocess.run(["make", "-C", examples, "-j", "4", "VIASOCK=" + self.bin],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               cwd=self.tmp, env=self.env, timeout=45)
        except subprocess.TimeoutExpired:
            self.fail("make -C examples -j 4 did not finish within 45 s")
        log(r.stdout.decode(errors="replace")[-300:])
        self.assertEqual(r.returncode, 0, "make failed: %r %r"
                         % (r.stdout[-1000:], r.stderr[-1000:]))
        self.assertIn(b"outputs match", r.stdout)
        r = subprocess.run(["make", "-C", examples, "clean", "VIASOCK=" + self.bin],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           cwd=self.tmp, env=self.env, timeout=20)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertFalse(os.path.exists(os.path.join(examples, "build")))


if __name__ == "__main__":
    unittest.main()
