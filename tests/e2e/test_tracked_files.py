"""The files a tool reads at start are part of its identity: a changed
module, model or config file gives a fresh daemon, also when the file keeps
its size and its mtime is set back; a file read per record does not; and
--no-track serves as before."""

import json
import os
import stat
import subprocess
import sys
import time
import unittest

from harness import HANG_TIMEOUT, TIME_SCALE, ViasockTestCase, wait_until

# Appends its pid to $STARTS (opened for writing: not tracked), then reads
# what the test names at start and answers with it.
PRELUDE = ("import os, sys\n"
           "with open(os.environ['STARTS'], 'a') as f:\n"
           "    f.write('%d\\n' % os.getpid())\n")

MODULE_TOOL = PRELUDE + (
    "sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), 'lib'))\n"
    "import conf\n"
    "for line in sys.stdin:\n"
    "    print(line.rstrip('\\n') + conf.SUFFIX, flush=True)\n")

MODEL_TOOL = PRELUDE + (
    "model = open(os.environ['TAGGER_MODEL']).read().strip()\n"
    "for line in sys.stdin:\n"
    "    print(line.rstrip('\\n') + '/' + model, flush=True)\n")

CONFIG_TOOL = PRELUDE + (
    "config = open('tagger.conf').read().strip()\n"
    "for line in sys.stdin:\n"
    "    print(config + ':' + line.rstrip('\\n'), flush=True)\n")

PER_RECORD_TOOL = PRELUDE + (
    "for line in sys.stdin:\n"
    "    data = open('data.txt').read().strip()\n"
    "    print(line.rstrip('\\n') + '=' + data, flush=True)\n")

# Long enough for the old daemon's once-a-second check: how long a test
# waits to see that a daemon did not go stale. (Waiting for one that must
# go stale is bounded by HANG_TIMEOUT, a bound on a hang, not on speed.)
STALE_WAIT = 2.5 * TIME_SCALE


class TrackedFilesTest(ViasockTestCase):

    def setUp(self):
        super().setUp()
        self.starts = self.starts_file()
        self.env["STARTS"] = self.starts
        self.direct_starts = os.path.join(self.tmp, "direct-starts")
        self.env["PYTHONDONTWRITEBYTECODE"] = "1"

    def tool(self, source):
        path = self.write_file("tagger.py", source)
        return [sys.executable, path]

    def start_count(self):
        try:
            with open(self.starts) as f:
                return len(f.read().split())
        except FileNotFoundError:
            return 0

    def rewrite(self, path, old, new, restore_mtime=False):
        """New contents of the same size; with restore_mtime, the mtime is
        set back to what it was."""
        before = os.stat(path)
        with open(path) as f:
            text = f.read()
        self.assertEqual(len(old), len(new))
        with open(path, "w") as f:
            f.write(text.replace(old, new))
        if restore_mtime:
            os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
        self.assertEqual(os.stat(path).st_size, before.st_size)

    def assert_like_direct(self, tool, data=b"a\nb\n", extra=None):
        vs = self.run_vs(["run"] + (extra or []) + tool, data)
        self.assertOk(vs)
        self.assertSameAsDirect(vs, self.direct(tool, data, env={"STARTS": self.direct_starts}))
        return vs.stdout

    def wait_stale(self, pids):
        self.assertTrue(wait_until(lambda: not set(pids) & set(self.live_daemon_pids()), HANG_TIMEOUT),
                        "the daemon did not go stale:\n" + self.log_tails())

    def check_changes(self, tool, path, old, new):
        """Two changes of `path`: once plain, once with the mtime set back."""
        first = self.assert_like_direct(tool)
        self.assertEqual(self.start_count(), 1)
        self.assert_like_direct(tool)
        self.assertEqual(self.start_count(), 1, "a warm call without a change started the tool")
        for restore, (a, b) in ((False, (old, new)), (True, (new, old))):
            pids = self.live_daemon_pids()
            self.rewrite(path, a, b, restore_mtime=restore)
            # At once: no call made after the change may get the old answers.
            out = self.assert_like_direct(tool)
            self.assertNotEqual(out, first) if not restore else self.assertEqual(out, first)
            self.wait_stale(pids)
        self.assertEqual(self.start_count(), 3)

    def test_a_module_replaced_by_a_rename_gives_a_fresh_daemon_at_once(self):
        # As editors and `cp` over a temporary name do: a new inode under
        # the old name, seen in the directory's events.
        os.mkdir(os.path.join(self.tmp, "lib"))
        conf = self.write_file("lib/conf.py", "SUFFIX = '!'\n")
        tool = self.tool(MODULE_TOOL)
        self.assertEqual(self.assert_like_direct(tool), b"a!\nb!\n")
        pids = self.live_daemon_pids()
        fresh = self.write_file("lib/.conf.py.new", "SUFFIX = '?'\n")
        os.rename(fresh, conf)
        self.assertEqual(self.assert_like_direct(tool), b"a?\nb?\n")
        self.wait_stale(pids)
        self.assertEqual(self.start_count(), 2)

    def test_a_compiled_module_the_tool_replaces_at_start_is_its_own_write(self):
        # Python reads the stale compiled module of an edited one and
        # replaces it while it starts: one start per edit, not two.
        del self.env["PYTHONDONTWRITEBYTECODE"]
        os.mkdir(os.path.join(self.tmp, "lib"))
        conf = self.write_file("lib/conf.py", "SUFFIX = '!'\n")
        tool = self.tool(MODULE_TOOL)
        self.assertEqual(self.assert_like_direct(tool), b"a!\nb!\n")
        self.assertTrue(os.listdir(os.path.join(self.tmp, "lib", "__pycache__")))
        self.write_file("lib/conf.py", "SUFFIX = '?!'\n")
        self.assertEqual(self.assert_like_direct(tool), b"a?!\nb?!\n")
        self.assertEqual(self.start_count(), 2)
        pids = self.live_daemon_pids()
        time.sleep(STALE_WAIT)
        self.assertEqual(self.live_daemon_pids(), pids, self.log_tails())
        self.assertEqual(self.assert_like_direct(tool), b"a?!\nb?!\n")
        self.assertEqual(self.start_count(), 2)

    def test_a_changed_module_next_to_the_tool_gives_a_fresh_daemon(self):
        os.mkdir(os.path.join(self.tmp, "lib"))
        conf = self.write_file("lib/conf.py", "SUFFIX = '!'\n")
        self.check_changes(self.tool(MODULE_TOOL), conf, "!", "?")

    def test_a_model_named_by_a_variable_outside_the_identity(self):
        model = self.write_file("model.tsv", "alpha\n")
        self.env["TAGGER_MODEL"] = model
        self.check_changes(self.tool(MODEL_TOOL), model, "alpha", "omega")

    def test_a_config_file_read_at_start(self):
        config = self.write_file("tagger.conf", "upper\n")
        self.check_changes(self.tool(CONFIG_TOOL), config, "upper", "lower")

    def test_a_model_changed_while_the_tool_starts_gives_a_fresh_daemon(self):
        # The tool reads its model, then goes on starting until the test
        # has rewritten the model: the first call is served by what the
        # tool read, the next one by a fresh daemon.
        model = self.write_file("model.tsv", "alpha\n")
        read = os.path.join(self.tmp, "model-read")
        go = os.path.join(self.tmp, "go")
        self.env["TAGGER_MODEL"] = model
        tool = self.tool(PRELUDE + (
            "model = open(os.environ['TAGGER_MODEL']).read().strip()\n"
            "import time\n"
            "if not os.path.exists(%r):\n"
            "    open(%r, 'w').close()\n"
            "    for _ in range(1000):\n"
            "        if os.path.exists(%r): break\n"
            "        time.sleep(0.01)\n"
            "for line in sys.stdin:\n"
            "    print(line.rstrip('\\n') + '/' + model, flush=True)\n") % (go, read, go))
        first = self.spawn_vs(["run"] + tool, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        self.assertTrue(wait_until(lambda: os.path.exists(read), 30 * TIME_SCALE), self.log_tails())
        self.rewrite(model, "alpha", "omega", restore_mtime=True)
        open(go, "w").close()
        out, _ = first.communicate(b"a\n", timeout=30 * TIME_SCALE)
        self.assertEqual((first.returncode, out), (0, b"a/alpha\n"))
        self.assertEqual(self.assert_like_direct(tool), b"a/omega\nb/omega\n")
        self.assertEqual(self.start_count(), 2)

    def test_a_file_read_per_record_is_data(self):
        data = self.write_file("data.txt", "one\n")
        tool = self.tool(PER_RECORD_TOOL)
        self.assertEqual(self.assert_like_direct(tool), b"a=one\nb=one\n")
        pids = self.live_daemon_pids()
        self.rewrite(data, "one", "two")
        time.sleep(STALE_WAIT)
        self.assertEqual(self.live_daemon_pids(), pids)
        self.assertEqual(self.assert_like_direct(tool), b"a=two\nb=two\n")
        self.assertEqual(self.start_count(), 1)

    def test_no_track_serves_as_before(self):
        os.mkdir(os.path.join(self.tmp, "lib"))
        conf = self.write_file("lib/conf.py", "SUFFIX = '!'\n")
        tool = self.tool(MODULE_TOOL)
        self.assertEqual(self.assert_like_direct(tool, extra=["--no-track"]), b"a!\nb!\n")
        pids = self.live_daemon_pids()
        self.rewrite(conf, "!", "?")
        time.sleep(STALE_WAIT)
        self.assertEqual(self.live_daemon_pids(), pids)
        vs = self.run_vs(["run", "--no-track"] + tool, b"a\n")
        self.assertEqual(vs.stdout, b"a!\n")
        self.assertEqual(self.start_count(), 1)

    def test_verbose_and_list_say_what_the_identity_covers(self):
        os.mkdir(os.path.join(self.tmp, "lib"))
        conf = self.write_file("lib/conf.py", "SUFFIX = '!'\n")
        tool = self.tool(MODULE_TOOL)
        vs = self.run_vs(["run", "-v"] + tool, b"a\n")
        self.assertOk(vs)
        self.assertRegex(vs.stderr, rb"the \d+ files the tool read at start")
        listed = self.run_vs(["list", "-v"])
        self.assertIn(conf.encode(), listed.stdout)
        # Tracked files are listed 24 columns in; the log's path, 22.
        self.assertNotIn(b" " * 24 + self.state_dir.encode() + b"/", listed.stdout)
        vs = self.run_vs(["run", "-v", "--no-track"] + tool, b"a\n")
        self.assertIn(b"not the files the tool reads at start (--no-track)", vs.stderr)
        entries = json.loads(self.run_vs(["list", "--json"]).stdout)
        self.assertEqual(sorted(e["tracking"] for e in entries), ["done", "off"])

    def test_a_setuid_tool_is_served_untracked_and_says_so(self):
        tool = self.write_file("setuid-cat", "#!/bin/sh\nexec cat\n")
        os.chmod(tool, 0o755 | stat.S_ISUID)
        vs = self.run_vs(["run", "-v", tool], b"x\n")
        self.assertOk(vs)
        self.assertEqual(vs.stdout, b"x\n")
        self.assertIn(b"setuid or setgid, and tracing it is not allowed", vs.stderr)
        log = self.log_tails(lines=100)
        self.assertEqual(log.count("cannot track the files"), 1, log)


if __name__ == "__main__":
    unittest.main()
