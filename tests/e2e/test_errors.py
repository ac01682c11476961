"""Errors of `viasock run`: tool not found or not executable, usage errors.
Usage errors are rejected before anything starts."""

import os
import unittest

from harness import ViasockTestCase, wait_until


class ToolErrorsTest(ViasockTestCase):
    def assertOneErrorLine(self, r, *needles):
        self.assertErrorLine(r, *needles)
        self.assertEqual(len(r.stderr.rstrip(b"\n").split(b"\n")), 1,
                         "expected one line on stderr: %r" % r.stderr)
        self.assertEqual(r.stdout, b"")

    def assertNothingLeft(self):
        self.assertTrue(wait_until(lambda: not self.live_daemon_pids() and
                                   not self.procs_in_tmp(), timeout=5),
                        "processes left: %r %r" % (self.live_daemon_pids(),
                                                   self.procs_in_tmp()))

    def test_tool_not_found_in_path(self):
        r = self.run_vs(["run", "no-such-tool-e2e", "-x"], b"x\n")
        self.assertEqual(r.returncode, 127, r.stderr)
        self.assertOneErrorLine(r, "no-such-tool-e2e")
        self.assertNothingLeft()

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


if __name__ == "__main__":
    unittest.main()
