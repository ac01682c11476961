"""The tool runs as a direct run would: default signal dispositions, an empty
signal mask, a process group of its own that stop and -w end as a whole."""

import os
import time
import unittest

from harness import HANG_TIMEOUT, ViasockTestCase, pid_alive, wait_until

# Answers every line with the tool's ignored and blocked signal masks and the
# output of a pipeline that needs SIGPIPE at its default.
SIGNALS_SH = r"""
while read -r line; do
  ign=$(awk '/^SigIgn/ {print $2}' /proc/$$/status)
  blk=$(awk '/^SigBlk/ {print $2}' /proc/$$/status)
  y=$(yes 2>&1 | head -1)
  echo "$ign $blk $y"
done
"""

# Starts a background child that outlives nothing, records its pid, then
# echoes lines.
CHILD_SH = r"""
sleep 300 &
echo $! >> "$CHILD_FILE"
while read -r line; do echo "$line"; done
"""


class ChildProcessTest(ViasockTestCase):
    def test_signals_at_their_defaults(self):
        r = self.run_vs(["run", "--pipe", "sh", "-c", SIGNALS_SH], b"x\n")
        self.assertOk(r)
        self.assertEqual(r.stdout, b"0000000000000000 0000000000000000 y\n")
        self.assertEqual(r.stderr, b"", "no 'Broken pipe' from yes")

    def test_stop_ends_the_tools_children(self):
        child_file = os.path.join(self.tmp, "child")
        r = self.run_vs(["run", "--pipe", "sh", "-c", CHILD_SH], b"a\n",
                        env={"CHILD_FILE": child_file})
        self.assertOk(r)
        self.assertTrue(wait_until(lambda: os.path.exists(child_file), timeout=HANG_TIMEOUT))
        # The first instance's child (a replacement appends its own).
        with open(child_file) as f:
            child = int(f.readline())
        self.extra_pids.append(child)
        self.assertTrue(pid_alive(child))
        s = self.run_vs(["stop", "--all"])
        self.assertOk(s, "viasock stop")
        self.assertTrue(wait_until(lambda: not pid_alive(child), timeout=HANG_TIMEOUT),
                        "the tool's child %d survived 'viasock stop'" % child)

    def test_record_timeout_ends_the_tools_children(self):
        child_file = os.path.join(self.tmp, "child")
        hang = CHILD_SH.replace('do echo "$line"; done',
                                'do [ "$line" = HANG ] && sleep 300; echo "$line"; done')
        r = self.run_vs(["run", "--pipe", "-w", "1", "sh", "-c", hang], b"a\nHANG\n",
                        env={"CHILD_FILE": child_file})
        self.assertEqual(r.returncode, 124, r.stderr)
        # The first instance's child (a replacement appends its own).
        with open(child_file) as f:
            child = int(f.readline())
        self.extra_pids.append(child)
        self.assertTrue(wait_until(lambda: not pid_alive(child), timeout=HANG_TIMEOUT),
                        "the tool's child %d survived the -w kill" % child)


if __name__ == "__main__":
    unittest.main()
