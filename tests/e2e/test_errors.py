"""Errors of `viasock run`: tool not found or not executable, usage errors,
a closed stdin or stdout. Usage errors and closed streams are rejected
before anything starts."""

import os
import subprocess
import unittest

from harness import HANG_TIMEOUT, ViasockTestCase, log, wait_until


class ToolErrorsTest(ViasockTestCase):
    def assertOneErrorLine(self, r, *needles):
        self.assertErrorLine(r, *needles)
        self.assertEqual(len(r.stderr.rstrip(b"\n").split(b"\n")), 1,
                         "expected one line on stderr: %r" % r.stderr)
        self.assertEqual(r.stdout, b"")

    def assertNothingLeft(self):
        self.assertTrue(wait_until(lambda: not self.live_daemon_pids() and
                                   not self.procs_in_tmp(), timeout=HANG_TIMEOUT),
                        "processes left: %r %r" % (self.live_daemon_pids(),
                                                   self.procs_in_tmp()))

    def test_tool_not_found_in_path(self):
        r = self.run_vs(["run", "no-such-tool-e2e", "-x"], b"x\n")
        self.assertEqual(r.returncode, 127, r.stderr)
        self.assertOneErrorLine(r, "no-such-tool-e2e")
        self.assertNothingLeft()

    def test_a_tool_in_this_directory_named_without_dot_slash(self):
        # As in the shell, PATH does not hold the working directory; the
        # message says how to name the script that is there.
        path = self.write_file("tagger.py", "#!/bin/sh\ncat\n")
        r = self.run_vs(["run", "tagger.py"], b"x\n")
        self.assertEqual(r.returncode, 127, r.stderr)
        self.assertOneErrorLine(r, "not found in PATH", "'./tagger.py'")
        os.chmod(path, 0o644)
        r = self.run_vs(["run", "tagger.py"], b"x\n")
        self.assertEqual(r.returncode, 127, r.stderr)
        self.assertOneErrorLine(r, "'./tagger.py' in this directory is not executable")
        self.assertNothingLeft()
        os.chmod(path, 0o755)
        self.assertOk(self.run_vs(["run", "./tagger.py"], b"x\n"))

    def test_tool_not_found_by_path(self):
        r = self.run_vs(["run", "./missing-tool"], b"x\n")
        self.assertEqual(r.returncode, 127, r.stderr)
        self.assertOneErrorLine(r, "missing-tool")
        self.assertNothingLeft()

    def test_tool_not_executable(self):
        path = os.path.join(self.tmp, "notexec.sh")
        with open(path, "w") as f:
            f.write("#!/bin/sh\ncat\n")
        os.chmod(path, 0o644)
        for tool in ("./notexec.sh", path):
            with self.subTest(tool=tool):
                r = self.run_vs(["run", tool], b"x\n")
                self.assertEqual(r.returncode, 126, r.stderr)
                self.assertOneErrorLine(r, "notexec.sh")
        self.assertNothingLeft()

    def test_messages_name_the_tool_not_stdbuf(self):
        # -L runs the tool under stdbuf; the user named the tool.
        r = self.run_vs(["run", "-L", "sh", "-c", "exit 3"], b"x\n")
        self.assertEqual(r.returncode, 3, r.stderr)
        self.assertOneErrorLine(r, "tool 'sh'")
        self.assertNotIn(b"stdbuf", r.stderr)

    def test_a_tool_viasock_killed_is_not_reported_as_killed_by_a_signal(self):
        # It answers, closes its stdout and keeps running: the daemon ends
        # it, and says so (not "killed by signal 9", status 137).
        tool = ["python3", self.write_file("closes.py", "import os, sys, time\n"
                                                        "print(sys.stdin.readline(), end='', flush=True)\n"
                                                        "os.close(1)\n"
                                                        "time.sleep(30)\n")]
        r = self.run_vs(["run"] + tool, b"a\nb\n", timeout=60)
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertEqual(r.stdout, b"a\n")
        self.assertErrorLine(r, "closed its output but kept running, and viasock killed it")
        self.assertNotIn(b"signal", r.stderr)


    def test_a_tool_that_dies_at_start_shows_its_stderr_once(self):
        # argparse's way: usage on stderr, status 2. The caller hears the
        # tool's stderr live; the error line does not repeat it.
        tool = ["python3", self.write_file("usage.py", "import sys\n"
                                                       "print('usage: tagger MODEL', file=sys.stderr)\n"
                                                       "sys.exit(2)\n")]
        r = self.run_vs(["run"] + tool, b"x\n")
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertEqual(r.stderr.count(b"usage: tagger MODEL"), 1, r.stderr)
        self.assertIn(b"viasock: error: tool 'python3' exited with status 2", r.stderr)
        self.assertNothingLeft()

    def test_a_tool_that_exits_at_start_shows_what_a_direct_run_shows(self):
        # Usage on stdout and status 1, argparse's usage on stderr and
        # status 2 (viasock's own usage status: the message says whose it
        # is), and a tool that prints and exits 0 without reading its input.
        usage = self.write_file("usage.py", "import sys\nprint('usage: tagger MODEL')\nsys.exit(1)\n")
        argparse = self.write_file("args.py", "import argparse\n"
                                              "p = argparse.ArgumentParser()\n"
                                              "p.add_argument('model')\n"
                                              "p.parse_args()\n")
        for tool in (["python3", usage], ["python3", argparse], ["echo", "hi"]):
            direct = self.direct(tool, b"x\n")
            r = self.run_vs(["run"] + tool, b"x\n")
            self.assertEqual(r.returncode, direct.returncode, r.stderr)
            self.assertBytesEqual(r.stdout, direct.stdout)
            if direct.returncode == 0:
                self.assertEqual(r.stderr, direct.stderr)
            else:
                if direct.stderr:
                    self.assertEqual(r.stderr.count(direct.stderr), 1, r.stderr)
                self.assertIn(b"the tool's own status", r.stderr)
            self.assertNothingLeft()

    def test_a_tool_that_never_answers_is_told_which_record(self):
        # It buffers its output on a pipe and on a terminal: its first call
        # is a direct run; learning then fails, naming the record it waited
        # on after, and the options that could help (never probe).
        tool = ["python3", self.write_file("buffers.py", "import os, sys\n"
                                                         "out = os.fdopen(1, 'w', buffering=65536)\n"
                                                         "for line in sys.stdin:\n"
                                                         "    out.write(line.upper())\n")]
        self.assertOk(self.run_vs(["run"] + tool, b"pear\napple\n"))
        r = self.run_vs(["run"] + tool, b"plum\n")
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertOneErrorLine(r, "read record 1 of its first call ('pear')", "make it flush each answer")
        self.assertNotIn(b"probe", r.stderr)

    def test_a_record_left_unanswered_under_given_framing_is_named(self):
        # --pipe says one line per record; the tool answers "stop" with
        # nothing. The call fails naming that record, and the log names the
        # call (its number and its client's pid).
        tool = ["python3", self.write_file("stop.py", "import sys\n"
                                                      "for line in sys.stdin:\n"
                                                      "    if line.strip() != 'stop':\n"
                                                      "        print(line.strip(), flush=True)\n")]
        self.assertOk(self.run_vs(["run", "--pipe"] + tool, b"a\nb\n"))
        p = self.spawn_vs(["run", "--pipe"] + tool)
        p.stdin.write(b"x\n")
        p.stdin.flush()
        self.assertEqual(p.stdout.readline(), b"x\n")
        p.stdin.write(b"stop\n")
        p.stdin.flush()
        # The input stays open: only the watch of the tool can end the call.
        self.assertEqual(p.wait(timeout=30), 1)
        err = p.stderr.read()
        p.stdin.close()
        self.assertIn(b"record 2 of this call ('stop')", err)
        self.assertEqual(err.count(b"\n"), 1, err)
        self.assertIn("call 2 (client pid %d)" % p.pid, self.log_tails(lines=1000))

    def test_what_a_stateful_tool_prints_at_exit_reaches_its_caller(self):
        # Each call of a tool that keeps state runs on an instance of its
        # own, which exits when the call's input ends: its end-of-run
        # summary on stderr is that call's, as in a direct run. (The first
        # call of a new daemon is served while the tool is learned, on an
        # instance that also answers the state probe: its summary counts
        # those records, so it is not passed on.)
        tool = ["python3", self.write_file("summary.py", "import sys\n"
                                                         "n = 0\n"
                                                         "for line in sys.stdin:\n"
                                                         "    n += 1\n"
                                                         "    print(n, line.strip(), flush=True)\n"
                                                         "print('processed %d lines' % n, file=sys.stderr)\n")]
        data = b"a\nb\n"
        direct = self.direct(tool, data)
        self.assertEqual(direct.stderr, b"processed 2 lines\n")
        first = self.run_vs(["run"] + tool, data)
        self.assertOk(first)
        self.assertBytesEqual(first.stdout, direct.stdout)
        for _ in range(2):
            r = self.run_vs(["run"] + tool, data)
            self.assertOk(r)
            self.assertBytesEqual(r.stdout, direct.stdout)
            self.assertEqual(r.stderr, direct.stderr)

class UsageErrorsTest(ViasockTestCase):
    def check_usage_error(self, options):
        starts = self.starts_file()
        r = self.run_vs(["run"] + options + self.slowtool(), b"x\n",
                        env=self.starts_env(starts))
        self.assertEqual(r.returncode, 2, "viasock run %r: stderr %r" % (options, r.stderr))
        self.assertEqual(r.stdout, b"")
        self.assertErrorLine(r)
        self.assertEqual(self.sockets(), [], "a socket was created")
        self.assertEqual(self.daemon_pids(), [], "a daemon was recorded")
        self.assertEqual(self.started_pids(starts), [], "the tool was started")
        self.assertEqual(self.procs_in_tmp(), [], "processes were started")

    def test_invalid_input_regex(self):
        self.check_usage_error(["-t", "("])

    def test_invalid_output_regex(self):
        self.check_usage_error(["-T", "("])

    def test_negative_idle_timeout(self):
        self.check_usage_error(["-W", "-1"])

    def test_negative_record_timeout(self):
        self.check_usage_error(["-w", "-1"])

    def test_negative_prelude(self):
        self.check_usage_error(["-P", "-1"])

    def test_null_with_regex(self):
        self.check_usage_error(["-0", "-t", "^$"])

    def test_unknown_option(self):
        self.check_usage_error(["--no-such-option"])


class ClosedStreamsTest(ViasockTestCase):
    """A direct filter with its stdin or stdout closed (`<&-`, `>&-`) fails;
    viasock must never turn that into success with /dev/null in its place."""

    def shell(self, redirect, argv, input=b""):
        """Runs argv with a standard stream closed as a shell's `redirect`
        (`<&-`, `>&-`, `2>&-`) would close it. Not through a shell: one that
        warns about the caller's locale would add a line to stderr."""
        fd = {"<&-": 0, ">&-": 1, "2>&-": 2}[redirect]
        try:
            # preexec_fn runs in the child after its descriptors are set up.
            return subprocess.run([str(a) for a in argv], input=input, capture_output=True,
                                  cwd=self.tmp, env=self.env, timeout=30,
                                  preexec_fn=lambda: os.close(fd))
        except subprocess.TimeoutExpired:
            self.fail("%r %s did not finish within 30 s" % (argv, redirect))

    def check_refused(self, redirect, stream, input=b"", direct_fails=True):
        direct = self.shell(redirect, ["cat"], input)
        if direct_fails:
            self.assertNotEqual(direct.returncode, 0, "a direct cat %s succeeded" % redirect)
        else:
            log("a direct cat %s on %r: status %d" % (redirect, input, direct.returncode))
        r = self.shell(redirect, [self.bin, "run", "cat"], input)
        self.assertEqual(r.returncode, 125, "viasock run cat %s: stderr %r" % (redirect, r.stderr))
        self.assertErrorLine(r, stream)
        self.assertEqual(len(r.stderr.rstrip(b"\n").split(b"\n")), 1, r.stderr)
        self.assertEqual(r.stdout, b"")

    def assertNothingStarted(self):
        self.assertEqual(self.sockets(), [], "a socket was created")
        self.assertEqual(self.procs_in_tmp(), [], "processes were started")

    def test_closed_stdout(self):
        self.check_refused(">&-", "cannot write standard output", b"1\n2\n3\n")
        # With nothing to write too: a recent cat checks its stdout at start
        # and sed closes it at exit (both fail), awk and grep succeed; viasock
        # cannot tell which kind the tool is, and fails rather than succeed.
        self.check_refused(">&-", "cannot write standard output", direct_fails=False)
        self.assertNothingStarted()

    def test_closed_stdin(self):
        self.check_refused("<&-", "cannot read standard input")
        self.assertNothingStarted()

    def test_closed_streams_with_a_daemon_running(self):
        r = self.run_vs(["run", "cat"], b"warm\n")
        self.assertOk(r)
        self.check_refused(">&-", "cannot write standard output", b"x\n")
        self.check_refused("<&-", "cannot read standard input")
        r = self.run_vs(["run", "cat"], b"still\n")
        self.assertOk(r)
        self.assertEqual(r.stdout, b"still\n")

    def test_closed_stdin_of_client_command(self):
        r = self.shell("<&-", [self.bin, "client", os.path.join(self.tmp, "no-such-socket")])
        self.assertEqual(r.returncode, 125, r.stderr)
        self.assertErrorLine(r, "cannot read standard input")

    def test_closed_stderr_is_no_error(self):
        # A direct cat does not need its stderr, and the descriptor that
        # stands in for it must not be the daemon's socket: cold and warm.
        for _ in range(2):
            direct = self.shell("2>&-", ["cat"], b"1\n2\n")
            r = self.shell("2>&-", [self.bin, "run", "cat"], b"1\n2\n")
            self.assertSameAsDirect(r, direct)
            self.assertEqual(r.stdout, b"1\n2\n")


if __name__ == "__main__":
    unittest.main()
