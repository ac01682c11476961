"""Unchanged tools without options: buffering and answer shapes learned, or a
loud error; identity that follows the environment; the tool's stderr to its
caller; `viasock probe`."""

import concurrent.futures
import json
import os
import signal
import subprocess
import sys
import time
import unittest

from harness import HANG_TIMEOUT, TOOLS, ViasockTestCase, have, log, wait_dead, wait_until

CHATTY = os.path.join(TOOLS, "chatty")

# A plain Python filter that does not flush: it buffers on a pipe.
UP_PY = "import sys\nfor l in sys.stdin: sys.stdout.write(l.upper())\n"
# Two answers for every record: no framing option describes that.
TWO_PY = ("import sys\nfor l in sys.stdin:\n"
          "    sys.stdout.write('A:' + l + 'B:' + l); sys.stdout.flush()\n")
PREFIX_PY = "import sys\nfor l in sys.stdin: print(sys.prefix)\n"
# Numbers the words of its input across records (state), and ends every
# answer with ".": a blank record is answered the same each time.
WORDS_PY = ("import sys\nn = 0\nfor l in sys.stdin:\n"
            "    for w in l.split():\n        n += 1; print(n, w)\n"
            "    print('.', flush=True)\n")


def lines(n):
    return b"".join(b"line a%d word%d\n" % (i, i) for i in range(n))


def python3():
    """A real interpreter (not a version manager's shell shim)."""
    return os.path.realpath(sys.executable)


class UnbufferedToolsTest(ViasockTestCase):
    """Acceptance 1: common filters that buffer on a pipe work with no option."""

    def check_cold_and_warm(self, tool, data):
        expected = self.direct(tool, data)
        self.assertEqual(expected.returncode, 0, expected.stderr)
        for call in ("cold", "warm", "warm again"):
            t0 = time.monotonic()
            r = self.run_vs(["run"] + tool, data)
            log("%s %s: %.2f s" % (tool[0], call, time.monotonic() - t0))
            self.assertOk(r, "%s (%s)" % (tool, call))
            self.assertBytesEqual(r.stdout, expected.stdout, "%s (%s)" % (tool, call))

    def test_python_script_that_does_not_flush(self):
        self.check_cold_and_warm([python3(), self.write_file("up.py", UP_PY)], lines(2000))

    def test_perl_tr_sed(self):
        for tool in (["perl", "-pe", "$_=uc"], ["tr", "a-z", "A-Z"], ["sed", "s/a/b/"]):
            with self.subTest(tool=tool[0]):
                self.check_cold_and_warm(tool, lines(2000))

    def test_answer_larger_than_the_stdio_buffer(self):
        # On a pipe the first answer stops at a multiple of the tool's
        # buffer, as if it were complete: the terminal's longer answer
        # shows that the tool buffers.
        data = b"a" * 100000 + b"\n" + lines(200)
        for tool in (["perl", "-pe", "$_=uc"], ["sed", "s/a/b/"]):
            with self.subTest(tool=tool[0]):
                self.check_cold_and_warm(tool, data)

    def test_first_answer_written_through_the_buffer(self):
        # Python writes anything larger than its 8 KiB buffer straight
        # through, so a long first record is answered on a pipe at once
        # although the tool buffers: later small calls must still get their
        # bytes, not an empty output with status 0.
        # The second tool buffers on a terminal too: its terminal answer to
        # the long record proves nothing either.
        never = ("import os, sys\nout = os.fdopen(1, 'wb', 8192)\n"
                 "for l in sys.stdin.buffer: out.write(l.upper())\nout.flush()\n")
        for name, source in (("up.py", UP_PY), ("never.py", never)):
            tool = [python3(), self.write_file(name, source)]
            first = b"a" * 100000 + b"\n" + lines(3)
            r = self.run_vs(["run"] + tool, first)
            self.assertOk(r, "%s cold" % name)
            self.assertBytesEqual(r.stdout, self.direct(tool, first).stdout, "%s cold" % name)
            for call in range(3):
                data = lines(5 + call)
                r = self.run_vs(["run"] + tool, data)
                self.assertOk(r, "%s warm call %d" % (name, call))
                self.assertBytesEqual(r.stdout, self.direct(tool, data).stdout, "%s warm call %d" % (name, call))

    def test_state_that_a_blank_first_record_does_not_show(self):
        # The first record is blank, so repeating it shows no state; the
        # longest record of the first call, repeated, does.
        tool = [python3(), self.write_file("words.py", WORDS_PY)]
        for call, data in enumerate((b"\nthe cat\nsat on the mat\n", b"a b\n", b"\nc\n")):
            r = self.run_vs(["run"] + tool, data)
            self.assertOk(r, "call %d" % call)
            self.assertBytesEqual(r.stdout, self.direct(tool, data).stdout, "call %d" % call)

    @unittest.skipUnless(have("mawk"), "mawk is not installed")
    def test_mawk_that_counts_records(self):
        # NR keeps counting in a long-lived tool: every call must get a
        # fresh instance to print what a direct run prints.
        self.check_cold_and_warm(["mawk", '{print NR": "$2}'], lines(2000))
        self.assertEqual(len(self.run_jsons()), 1, "one daemon")


class ShapesTest(ViasockTestCase):
    """Acceptance 2 and 3: answers of several lines, or a loud error."""

    @unittest.skipUnless(have("hunspell"), "hunspell is not installed")
    def test_hunspell_without_options(self):
        data = b"hello\nhelo wrld\n\nthe quick brown fox\nrecieve\n"
        expected = self.direct(["hunspell", "-a", "-d", "en_US"], data)
        if expected.returncode != 0:
            self.skipTest("hunspell has no en_US dictionary")
        for call in ("cold", "warm"):
            r = self.run_vs(["run", "hunspell", "-a", "-d", "en_US"], data)
            self.assertOk(r, call)
            self.assertBytesEqual(r.stdout, expected.stdout, call)

    def test_two_answers_per_record(self):
        tool = [python3(), "-c", TWO_PY]
        data = lines(30)
        expected = self.direct(tool, data)
        for call in ("cold", "warm"):
            r = self.run_vs(["run"] + tool, data)
            if r.returncode == 0:
                self.assertBytesEqual(r.stdout, expected.stdout, call)
            else:
                self.assertIn(b"-T", r.stderr, "a failure names the fixing option")

    def test_sort_fails_loudly_and_quickly(self):
        # The first call of a tool that does not answer on a pipe is its
        # direct run (the direct run's bytes); then the tool is tried on a
        # terminal, found to answer only at the end of its input, and the
        # calls that follow fail loudly.
        first = self.run_vs(["run", "sort"], b"b\na\n")
        self.assertOk(first, "the first call, a direct run")
        self.assertEqual(first.stdout, b"a\nb\n")
        t0 = time.monotonic()
        self.assertTrue(wait_until(lambda: [d for d in self.run_jsons().values()], timeout=HANG_TIMEOUT))
        r = self.run_vs(["run", "sort"], b"b\na\n", timeout=2 * HANG_TIMEOUT)
        elapsed = time.monotonic() - t0
        if r.returncode == 0:
            # The failed daemon was gone already: a new one served it directly.
            self.assertEqual(r.stdout, b"a\nb\n")
            return
        # "Quickly" means it does not wait forever for answers sort gives
        # only at the end of its input: this bounds a hang, not speed.
        self.assertLess(elapsed, HANG_TIMEOUT)
        self.assertIn(b"waits for more input without answering", r.stderr)
        self.assertIn(b"-t", r.stderr)
        # Until it exits, the daemon answers `list` and says why it goes.
        for entry in json.loads(self.run_vs(["list", "--json"]).stdout):
            if entry["running"]:
                self.assertEqual(entry["state"], "failed", entry)

    def check_advice(self, tool, data, present, absent):
        """The first call is the tool's direct run; the next fails, naming
        only options that could help (never probe, which runs the same
        learning and fails the same way)."""
        first = self.run_vs(["run"] + tool, data)
        self.assertOk(first, "the first call, a direct run")
        self.assertBytesEqual(first.stdout, self.direct(tool, data).stdout)
        # Should the failed daemon be gone already, a new one serves the
        # next call directly and fails the one after.
        for _ in range(3):
            r = self.run_vs(["run"] + tool, data)
            if r.returncode != 0:
                break
        self.assertErrorLine(r, b"waits for more input without answering")
        for part in present:
            self.assertIn(part, r.stderr)
        for part in [b"probe"] + absent:
            self.assertNotIn(part, r.stderr)

    def test_records_of_two_lines_are_told_of_t(self):
        self.check_advice(["awk", "NR % 2 == 0 { print; fflush() }"], b"a\nb\nc\nd\n",
                          [b"-t REGEX", b"on a terminal"], [b"-L", b"--pty"])

    def test_a_tool_that_buffers_on_a_terminal_too_is_not_told_of_pty(self):
        tool = [python3(), "-c", "import os, sys\nout = os.fdopen(1, 'w', 65536)\n"
                "for line in sys.stdin: out.write(line.upper())\nout.flush()"]
        self.check_advice(tool, b"a\nb\n", [b"flush each answer"], [b"-L", b"--pty"])

    def test_a_tool_that_closes_its_output_on_a_terminal_is_served_directly(self):
        # Its first record takes no answer (a comment), so it is tried on a
        # terminal, where it closes its stdout: every call is then a direct
        # run on a pipe, which is what works, not a refusal.
        tool = [python3(), "-c", "import os, sys\nif os.isatty(1): os.close(1)\n"
                "for line in sys.stdin:\n"
                "    if not line.startswith('#'): sys.stdout.write(line.upper()); sys.stdout.flush()"]
        data = b"#c\na\nb\n"
        expected = self.direct(tool, data)
        for call in range(3):
            r = self.run_vs(["run"] + tool, data, timeout=60)
            self.assertOk(r, "call %d" % call)
            self.assertBytesEqual(r.stdout, expected.stdout, "call %d" % call)

    def test_tools_that_colour_on_a_terminal(self):
        data = b'{"a x": 1}\n{"b": "x"}\n'
        tools = [["grep", "--color=auto", "x"]]
        if have("jq"):
            tools.append(["jq", "-c", "."])
        for tool in tools:
            expected = self.direct(tool, data)
            for call in ("cold", "warm"):
                with self.subTest(tool=tool[0], call=call):
                    r = self.run_vs(["run"] + tool, data)
                    self.assertNotIn(b"\x1b[", r.stdout, "coloured output")
                    if r.returncode == 0:
                        self.assertBytesEqual(r.stdout, expected.stdout)

    def test_banner_is_a_prelude(self):
        tool = [os.path.join(TOOLS, "slowtool"), "--banner", "Welcome v1"]
        data = b"abc\ndef\n"
        expected = self.direct(tool, data)
        for call in ("cold", "warm"):
            r = self.run_vs(["run"] + tool, data)
            self.assertOk(r, call)
            self.assertBytesEqual(r.stdout, expected.stdout, call)


class IdentityTest(ViasockTestCase):
    """Acceptance 4."""

    def test_virtualenvs_are_different_tools(self):
        prefixes = {}
        for name in ("venvA", "venvB"):
            venv = os.path.join(self.tmp, name)
            made = subprocess.run([python3(), "-m", "venv", "--without-pip", venv],
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
            if made.returncode != 0:
                self.skipTest("python3 -m venv does not work here: %r" % made.stderr[-300:])
            prefixes[name] = venv
        for name, venv in prefixes.items():
            r = self.run_vs(["run", os.path.join(name, "bin", "python3"), "-c", PREFIX_PY], b"x\n")
            self.assertOk(r, name)
            self.assertEqual(r.stdout.strip().decode(), os.path.realpath(venv), name)
        self.assertEqual(len(self.run_jsons()), 2, "one daemon per virtualenv")

    def test_locale_variables_fork_and_operational_options_share(self):
        for value in ("C", "C.UTF-8"):
            r = self.run_vs(["run", "--pipe", "cat"], b"x\n", env={"LC_ALL": value})
            self.assertOk(r)
        self.assertEqual(len(self.run_jsons()), 2, "LC_ALL=C and C.UTF-8 get their own daemons")
        for options in (["-W", "30"], ["-W", "60"], ["-w", "10"], ["-j", "2"]):
            r = self.run_vs(["run"] + options + ["--pipe", "cat"], b"y\n", env={"LC_ALL": "C"})
            self.assertOk(r, options)
        self.assertEqual(len(self.run_jsons()), 2, "-W, -w and -j share the daemon")


class ToolStderrTest(ViasockTestCase):
    """Acceptance 5."""

    def test_start_up_message_and_warnings_reach_their_callers(self):
        cmd = ["run", CHATTY, "--delay", "1"]
        first = self.run_vs(cmd, b"hello\nWARN first\n")
        self.assertOk(first)
        self.assertEqual(first.stdout, b"HELLO\nWARN FIRST\n")
        self.assertIn(b"loading model...\n", first.stderr)
        self.assertIn(b"warning: unknown word WARN first\n", first.stderr)

        def call(i):
            data = b"".join(b"plain %d %d\n" % (i, k) for k in range(50)) + b"WARN from %d\n" % i
            return i, self.run_vs(cmd, data)

        with concurrent.futures.ThreadPoolExecutor(6) as pool:
            results = list(pool.map(call, range(6)))
        for i, r in results:
            self.assertOk(r, "caller %d" % i)
            self.assertEqual(r.stderr, b"warning: unknown word WARN from %d\n" % i,
                             "caller %d sees exactly its own warning" % i)

    def test_a_warning_for_every_record(self):
        """A tool that warns about every record, as fast as it answers: no
        warning is lost, even for the last records (a warning read ahead
        of its answer's routing used to reach only the log)."""
        tool = [python3(), "-c", "import sys\nfor line in sys.stdin:\n"
                "    sys.stderr.write('warning: ' + line); sys.stderr.flush()\n"
                "    sys.stdout.write(line); sys.stdout.flush()\n"]
        data = b"".join(b"w%d\n" % i for i in range(300))
        want = b"".join(b"warning: w%d\n" % i for i in range(300))
        for round in range(10):
            r = self.run_vs(["run", "--pipe"] + tool, data)
            self.assertOk(r, "round %d" % round)
            self.assertBytesEqual(r.stdout, data, "round %d" % round)
            self.assertBytesEqual(r.stderr, want, "stderr, round %d" % round)

    def test_quiet_tool(self):
        r = self.run_vs(["run", "--quiet-tool", CHATTY], b"WARN x\n")
        self.assertOk(r)
        self.assertEqual(r.stderr, b"")


class StartTest(ViasockTestCase):
    def test_start_without_options_waits_for_the_tool(self):
        # Learning needs a record to choose; `start` waits only until the
        # tool is loaded, and the next call is warm.
        tool = [os.path.join(TOOLS, "slowtool"), "--delay", "1"]
        starts = self.starts_file()
        env = self.starts_env(starts)  # not part of the identity
        t0 = time.monotonic()
        r = self.run_vs(["start"] + tool, env=env, timeout=2 * HANG_TIMEOUT)
        took = time.monotonic() - t0
        self.assertOk(r, "viasock start")
        daemon_id = r.stdout.decode().strip()
        # A lower bound (the tool sleeps 1 s; load only lengthens it) and a
        # bound on a hang, not on speed.
        self.assertGreater(took, 0.9)
        self.assertLess(took, HANG_TIMEOUT)
        self.assertEqual(len(self.started_pids(starts)), 1, "start started the tool")
        r = self.run_vs(["run", "-v"] + tool, b"abc\n", env=env)
        self.assertOk(r)
        self.assertEqual(r.stdout, b"ABC\n")
        # The call after start is warm, shown by counts rather than its
        # time: it reused the daemon start left (-v says so) and the tool
        # start waited for, which did not start again.
        self.assertIn(b"reusing daemon " + daemon_id.encode(), r.stderr, "the call after start is warm")
        self.assertEqual(len(self.started_pids(starts)), 1, "the call after start is warm")


class ProbeTest(ViasockTestCase):
    """Acceptance 6."""

    @unittest.skipUnless(have("hunspell"), "hunspell is not installed")
    def test_probe_prints_a_working_command_line(self):
        data = b"hello\nhelo wrld\n"
        r = self.run_vs(["probe", "hunspell", "-a", "-d", "en_US"], data, timeout=60)
        self.assertOk(r)
        line = [l for l in r.stdout.decode().splitlines() if l.startswith("  viasock run")][0]
        self.assertIn("-T '^$'", line)
        self.assertIn("--prelude-lines 1", line)
        # The printed options work and give the direct run's bytes.
        args = line.split()[2:]
        args = [a.strip("'") for a in args]
        served = self.run_vs(["run"] + args, data)
        self.assertOk(served)
        self.assertBytesEqual(served.stdout, self.direct(["hunspell", "-a", "-d", "en_US"], data).stdout)

    def test_an_interrupted_probe_leaves_nothing_behind(self):
        # The direct run is quick; the tool started through viasock then
        # takes its time, and the probe is interrupted as Ctrl-C would.
        temp = os.path.join(self.tmp, "temp")
        os.mkdir(temp)
        starts = self.starts_file()
        marker = os.path.join(self.tmp, "direct-done")
        tool = [sys.executable, self.write_file("slow.py", (
            "import os, sys, time\n"
            "open(%r, 'a').write('%%d\\n' %% os.getpid())\n"
            "if os.path.exists(%r):\n"
            "    time.sleep(30)\n"
            "open(%r, 'w').close()\n"
            "for line in sys.stdin:\n"
            "    print(line, end='', flush=True)\n") % (starts, marker, marker))]
        probe = self.spawn_vs(["probe"] + tool, env={"TMPDIR": temp})
        probe.stdin.write(b"a\n")
        probe.stdin.close()
        self.assertTrue(wait_until(lambda: len(self.started_pids(starts)) == 2, HANG_TIMEOUT),
                        "the tool was not started through viasock")
        [probe_dir] = os.listdir(temp)
        state = os.path.join(temp, probe_dir, "state")
        self.state_dirs.append(state)
        self.assertTrue(wait_until(lambda: self.daemon_pids(state), HANG_TIMEOUT))
        daemons = self.daemon_pids(state)
        probe.send_signal(signal.SIGINT)
        try:
            probe.wait(timeout=HANG_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.fail("the interrupted probe did not exit")
        self.assertEqual(probe.returncode, -signal.SIGINT)
        self.assertEqual(os.listdir(temp), [], "the probe's directory was left behind")
        self.assertEqual(wait_dead(daemons + self.started_pids(starts), HANG_TIMEOUT), [],
                         "a daemon or tool of the probe was left running")

    def test_probe_of_sort_says_why(self):
        r = self.run_vs(["probe", "sort"], b"b\na\n", timeout=60)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn(b"without answering", r.stderr)


if __name__ == "__main__":
    unittest.main()
