"""Spreading a stream over instances only when it helps (scheduler.h).

`cat` is faster than the daemon moves bytes: under -j 2 one instance does
the work and the other stays idle, instead of both adding copies and
reordering. A slow tool's stream still goes to both instances."""

import os
import sys
import unittest

from harness import ViasockTestCase, child_pids

# Sleeps a millisecond per record: far slower than the daemon.
SLOW_TOOL = r'''
import sys, time
for line in iter(sys.stdin.buffer.readline, b""):
    time.sleep(0.001)
    sys.stdout.buffer.write(line)
    sys.stdout.buffer.flush()
'''


def bytes_read(pid):
    """What the process read so far (rchar of /proc/PID/io)."""
    with open("/proc/%d/io" % pid) as f:
        for line in f:
            if line.startswith("rchar:"):
                return int(line.split()[1])
    return 0


class SpreadingTest(ViasockTestCase):
    def instances_read(self):
        pids = self.live_daemon_pids()
        self.assertEqual(len(pids), 1, pids)
        children = child_pids(pids[0])
        self.assertEqual(len(children), 2, children)
        return sorted(bytes_read(pid) for pid in children)

    def test_a_fast_tool_keeps_a_stream_on_one_instance(self):
        data = b"".join(b"line %d of a stream through cat\n" % i for i in range(600000))
        command = ["run", "-j", "2", "-W", "30", "cat"]
        # The first call measures the tool's and the daemon's costs.
        for _ in range(2):
            result = self.run_vs(command, input=data, timeout=120)
            self.assertOk(result)
            self.assertBytesEqual(result.stdout, data, "20 MB through cat -j 2")
        before = self.instances_read()
        result = self.run_vs(command, input=data, timeout=120)
        self.assertOk(result)
        self.assertBytesEqual(result.stdout, data, "20 MB through cat -j 2")
        after = self.instances_read()
        moved = [a - b for a, b in zip(after, before)]
        self.assertGreaterEqual(sum(moved), len(data))
        # The idle one may have had a batch while the costs were measured.
        self.assertLess(min(moved), len(data) // 10, "both instances read the stream: %s" % moved)

    def test_a_slow_tool_spreads_a_stream(self):
        tool = os.path.join(self.tmp, "slow.py")
        with open(tool, "w") as f:
            f.write(SLOW_TOOL)
        data = b"".join(b"record %d\n" % i for i in range(1000))
        command = ["run", "--pipe", "-j", "2", "-W", "30", sys.executable, tool]
        for _ in range(2):
            result = self.run_vs(command, input=data, timeout=120)
            self.assertOk(result)
            self.assertBytesEqual(result.stdout, data, "a slow tool under -j 2")
        moved = self.instances_read()
        self.assertGreater(min(moved), len(data) // 5, "one instance did the work: %s" % moved)


if __name__ == "__main__":
    unittest.main()
