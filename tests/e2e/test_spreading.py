"""Spreading a stream over instances only when it helps (scheduler.h).

`cat` is faster than the daemon moves bytes: under -j 2 one instance does
the work and the other stays idle, instead of both adding copies and
reordering. A slow tool's stream still goes to both instances.

A fast tool that flushes every answer is read in gulps rather than answer
by answer ("Reading answers" in scheduler.h): the daemon wakes far less
often than the tool answers, and a tool that dies meanwhile still fails
the call loudly and leaves no descriptor behind."""

import os
import sys
import time
import unittest

from harness import HANG_TIMEOUT, ViasockTestCase, child_pids, fd_count, have, log, proc_field, wait_until

# Sleeps a millisecond per record: far slower than the daemon.
SLOW_TOOL = r'''
import sys, time
for line in iter(sys.stdin.buffer.readline, b""):
    time.sleep(0.001)
    sys.stdout.buffer.write(line)
    sys.stdout.buffer.flush()
'''


# A CPU-bound, line-flushing filter: about 0.3 ms of arithmetic a record
# (less on a fast machine), no state. A record "die" makes it exit with
# status 3.
CPU_TOOL = r'''
{
    h = 0
    for (i = 0; i < 3000; i++)
        h = (h * 31 + i) % 1000003
    print h, $0
    fflush()
}
$0 == "die" { exit 3 }
'''


class SpreadingTest(ViasockTestCase):
    def instances_read(self):
        pids = self.live_daemon_pids()
        self.assertEqual(len(pids), 1, pids)
        children = child_pids(pids[0])
        self.assertEqual(len(children), 2, children)
        return sorted(proc_field(pid, "io", "rchar") for pid in children)  # bytes read so far

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
        # Bytes each instance read, a count, not a time. The daemon decides
        # from its own and cat's CPU time per record (which load does not
        # stretch) and from cat's service time, which must reach 20 times
        # the daemon's CPU to count. The idle one may have had a batch while
        # the costs were measured. On failure, what the daemon measured.
        decided = [l for l in self.log_tails(lines=10000).splitlines() if "spreading over instances" in l]
        self.assertLess(min(moved), len(data) // 10, "both instances read the stream: %s; %s" % (moved, decided))

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

    def cpu_tool(self, *args):
        return ["gawk"] + list(args) + ["-f", self.write_file("cpu.awk", CPU_TOOL)]

    @unittest.skipUnless(have("gawk"), "needs gawk")
    def test_no_word_of_spreading_where_nothing_can_spread(self):
        # The log says whether spreading helps only where there is a choice:
        # at -j 1 (the default) nothing is said of it, even for a tool whose
        # cost per record is close to the daemon's, where the measure flips.
        data = b"".join(b"%d\n" % i for i in range(200000))
        tool = ["gawk", "{ s = 0; for (i = 0; i < 300; i++) s += i * $1; print s; fflush() }"]
        # 60 million loop turns of gawk a run: the bounds are on a hang, not
        # on speed, generous for a machine whose cores are busy elsewhere.
        direct = self.direct(tool, input=data, timeout=4 * HANG_TIMEOUT)
        for _ in range(2):
            self.assertSameAsDirect(self.run_vs(["run"] + tool, input=data, timeout=4 * HANG_TIMEOUT), direct, "gawk")
        text = self.log_tails(lines=10000)
        self.assertIn("listening on", text)
        self.assertNotIn("spreading over instances", text)

    @unittest.skipUnless(have("gawk"), "needs gawk")
    def test_a_fast_tool_is_read_in_gulps(self):
        data = b"".join(b"%d words of text\n" % i for i in range(2000))
        tool = self.cpu_tool()
        direct = self.direct(tool, input=data)
        command = ["run", "-j", "2", "-W", "30"] + tool
        # The first calls measure the costs that size batches and pauses.
        for _ in range(2):
            self.assertSameAsDirect(self.run_vs(command, input=data, timeout=60), direct, "gawk -j 2")
        daemon = self.live_daemon_pids()[0]
        before = proc_field(daemon, "status", "voluntary_ctxt_switches")
        t0 = time.monotonic()
        self.assertSameAsDirect(self.run_vs(command, input=data, timeout=60), direct, "gawk -j 2")
        took = time.monotonic() - t0
        wakeups = proc_field(daemon, "status", "voluntary_ctxt_switches") - before
        log("the daemon woke %d times for 2,000 answers in %.2f s" % (wakeups, took))
        # A count of sleeps per answer, not a time. Read answer by answer,
        # the daemon sleeps about once per answer (some 1,900 times for
        # these 2,000 under --pty, where it must); in gulps, a few hundred
        # times (250-400 here, up to 670 with busy loops on both cores, the
        # call taking 0.4-1.3 s). A loaded machine slows the tool, its gulps
        # get smaller and the count grows: hence three answers in four, not
        # one in two.
        self.assertLess(wakeups, 1500, "the daemon woke %d times for 2,000 answers" % wakeups)

    @unittest.skipUnless(have("gawk"), "needs gawk")
    def test_a_tool_dying_while_its_answers_wait_fails_the_call(self):
        lines = [b"%d words of text\n" % i for i in range(3000)]
        data = b"".join(lines[:1500] + [b"die\n"] + lines[1500:])
        short = b"".join(lines[:100])
        command = ["run", "-j", "2", "-W", "30"] + self.cpu_tool()
        self.assertOk(self.run_vs(command, input=short, timeout=60))
        daemon = self.live_daemon_pids()[0]
        self.assertTrue(wait_until(lambda: len(child_pids(daemon)) == 2, 10), child_pids(daemon))
        # The first call's connection may still be closing in the daemon:
        # its descriptors count once they stop changing.
        counts = []

        def steady():
            counts.append(fd_count(daemon))
            return len(counts) > 3 and len(set(counts[-4:])) == 1
        self.assertTrue(wait_until(steady, 10, interval=0.1), counts)
        settled = counts[-1]
        for _ in range(3):
            result = self.run_vs(command, input=data, timeout=60)
            self.assertEqual(result.returncode, 3, result.stderr[-500:])
            self.assertErrorLine(result, "exited with status 3")
        # The instances that died are replaced, and nothing of theirs is left
        # open (a parked stdout included). Fewer is fine: the first instances'
        # start-up tracking listeners go with them, their replacements have none.
        self.assertOk(self.run_vs(command, input=short, timeout=60))
        self.assertTrue(wait_until(lambda: len(child_pids(daemon)) == 2 and fd_count(daemon) <= settled, 10),
                        "descriptors: %d, settled at %d" % (fd_count(daemon), settled))


if __name__ == "__main__":
    unittest.main()
