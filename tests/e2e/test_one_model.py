"""One model per call: a call of a tool that keeps state stays on its
instance to the end (restart waits for it), and an instance started once
the tool's files changed never serves a call begun with the old ones."""

import os
import time
import unittest

from harness import TIME_SCALE, ViasockTestCase, have, wait_until

# Answers "MODEL:N" for each line: the model file's content and a count.
MODEL_TOOL = ("import sys\n"
              "model = open(sys.argv[1]).read().strip()\n"
              "for n, line in enumerate(sys.stdin, 1):\n"
              "    print('%s:%d' % (model, n), flush=True)\n")


class OneModelTest(ViasockTestCase):

    def slow_lines(self, p, lines, pause):
        """Writes lines one by one; a call that failed early stops reading."""
        try:
            for line in lines:
                p.stdin.write(line)
                p.stdin.flush()
                time.sleep(pause)
            p.stdin.close()
        except BrokenPipeError:
            pass

    @unittest.skipUnless(have("gawk"), "gawk is not installed")
    def test_restart_waits_for_a_call_of_a_stateful_tool(self):
        tool = ["gawk", '{print NR": "$0}']
        self.assertOk(self.run_vs(["run"] + tool, b"learn\n"))
        lines = [b"%d\n" % i for i in range(1, 9)]
        p = self.spawn_vs(["run"] + tool)
        p.stdin.write(lines[0])
        p.stdin.flush()
        self.assertEqual(p.stdout.readline(), b"1: 1\n")
        self.assertOk(self.run_vs(["restart", "--all"]))
        self.slow_lines(p, lines[1:], 0.05)
        out = p.stdout.read()
        self.assertEqual(p.wait(timeout=30 * TIME_SCALE), 0, p.stderr.read())
        self.assertBytesEqual(b"1: 1\n" + out, self.direct(tool, b"".join(lines)).stdout)

    def test_no_call_mixes_two_models(self):
        tool_path = self.write_file("tagger.py", MODEL_TOOL)
        model = self.write_file("model", "modelA\n")
        # Recycled every 3 records: the call needs new instances as it goes.
        command = ["run", "--pipe", "--max-records", "3", "python3", tool_path, model]
        p = self.spawn_vs(command)
        p.stdin.write(b"0\n")
        p.stdin.flush()
        self.assertEqual(p.stdout.readline(), b"modelA:1\n")
        # Replaced by a file of the same size, as an update would.
        self.write_file("model.new", "modelB\n")
        os.rename(os.path.join(self.tmp, "model.new"), model)
        self.slow_lines(p, [b"%d\n" % i for i in range(1, 12)], 0.05)
        out = p.stdout.read()
        status = p.wait(timeout=30 * TIME_SCALE)
        err = p.stderr.read()
        self.assertNotIn(b"modelB", out, "one call saw two models")
        if status == 0:
            self.assertEqual(out.count(b"\n"), 11)
        else:
            self.assertIn(b"changed", err)
        # The next call gets the new model from a fresh daemon.
        r = self.run_vs(command, b"x\n")
        self.assertOk(r)
        self.assertEqual(r.stdout, b"modelB:1\n")


if __name__ == "__main__":
    unittest.main()
