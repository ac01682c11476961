"""-j N: a pool of instances (issue: speed).

With -j 3, one large stream and eight concurrent clients all get output
byte-identical to a direct run, in their own input order, and every one of
the three instances did part of the work."""

import concurrent.futures
import os
import sys
import unittest

from harness import ViasockTestCase, wait_until

# Upper-cases each line; when its stdin closes it writes how many lines it
# answered to $COUNT_DIR/<pid>, so the test can see which instance worked.
COUNTING_TOOL = r'''
import os, sys
count = 0
for line in sys.stdin.buffer:
    sys.stdout.buffer.write(line.upper())
    sys.stdout.buffer.flush()
    count += 1
with open(os.path.join(os.environ["COUNT_DIR"], str(os.getpid())), "w") as f:
    f.write(str(count))
'''


class PoolTest(ViasockTestCase):
    def setUp(self):
        super().setUp()
        self.tool = os.path.join(self.tmp, "counting.py")
        with open(self.tool, "w") as f:
            f.write(COUNTING_TOOL)
        self.counts = os.path.join(self.tmp, "counts")
        os.mkdir(self.counts)
        self.command = ["run", "--pipe", "-j", "3", "-W", "30", sys.executable, self.tool]
        self.tool_env = {"COUNT_DIR": self.counts}

    def lines(self, tag, n):
        return b"".join(b"%s line %d\n" % (tag, i) for i in range(n))

    def test_large_stream_and_concurrent_clients_with_three_instances(self):
        big = self.lines(b"big", 100000)
        result = self.run_vs(self.command, input=big, timeout=120, env=self.tool_env)
        self.assertOk(result)
        self.assertBytesEqual(result.stdout, big.upper(), "100 000-line stream through -j 3")

        inputs = [self.lines(b"client%d" % c, 5000 + 100 * c) for c in range(8)]
        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            results = list(pool.map(
                lambda data: self.run_vs(self.command, input=data, timeout=120, env=self.tool_env),
                inputs))
        for c, (data, result) in enumerate(zip(inputs, results)):
            self.assertOk(result, "client %d" % c)
            self.assertBytesEqual(result.stdout, data.upper(), "client %d" % c)

        # Stopping closes the tools' stdin: each writes its count and exits.
        self.assertOk(self.run_vs(["stop", "--all"], timeout=60))
        self.assertTrue(wait_until(lambda: len(os.listdir(self.counts)) == 3, timeout=10),
                        "three instances should have reported, got %s" % os.listdir(self.counts))
        counts = {}
        for name in os.listdir(self.counts):
            with open(os.path.join(self.counts, name)) as f:
                counts[name] = int(f.read())
        total = 100000 + sum(5000 + 100 * c for c in range(8))
        self.assertEqual(sum(counts.values()), total, counts)
        for pid, count in counts.items():
            self.assertGreater(count, 0, "instance %s did no work: %s" % (pid, counts))


if __name__ == "__main__":
    unittest.main()
