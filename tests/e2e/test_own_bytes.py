"""Answers reach a caller only when they are surely its own.

A tool whose answers do not keep to one shape (sed splitting a line, grep
answering 0 or 1 line, jq 0..n values) gives each caller its direct run's
bytes, also when one caller's records are spread over two instances (-j 2)
and when many callers share one instance. Where framing was given (--pipe,
-T), a tool that breaks it fails the callers concerned loudly: never other
bytes with status 0, never another caller's bytes.
"""

import concurrent.futures
import os
import unittest

from harness import HANG_TIMEOUT, TIME_SCALE, ViasockTestCase, child_pids, have, wait_dead


# Splits a line at "x" into two, and burns a little CPU per line so that a
# long call is worth spreading over two instances.
SPLITTER = """#!/usr/bin/env python3
import sys
for line in sys.stdin:
    sum(range(3000))
    sys.stdout.write(line.replace("x", "\\n"))
    sys.stdout.flush()
"""


def varying_input(lines, every=97, offset=50):
    """Lines of one answer each but every `every`th, which gets two; the
    first has one, so that "one line per answer" is learned."""
    return b"".join(b"line %d%s\n" % (i, b" x y" if i % every == offset else b"") for i in range(lines))


class OwnBytesTest(ViasockTestCase):

    def splitter(self):
        path = self.write_file("split.py", SPLITTER)
        os.chmod(path, 0o755)
        return [path]

    def concurrently(self, args, datas):
        with concurrent.futures.ThreadPoolExecutor(len(datas)) as pool:
            return list(pool.map(lambda d: self.run_vs(args, d), datas))

    def assertOwnBytesOrLoud(self, result, direct, foreign, what):
        """The direct run's bytes and status, or a non-zero status with a
        message; and never a byte sequence only another caller could get."""
        if result.returncode != 0:
            self.assertErrorLine(result)
        else:
            self.assertBytesEqual(result.stdout, direct.stdout, what)
        for marker in foreign:
            self.assertNotIn(marker, result.stdout, "%s: another caller's bytes" % what)

    def test_one_call_spread_over_two_instances_keeps_its_order(self):
        # With -j 2 one long call's batches go to both instances; a record
        # answered with two lines on one of them must not move its answers
        # past the other instance's batch.
        tool = self.splitter()
        data = varying_input(30000)
        expected = self.direct(tool, data)
        for i in range(4):
            r = self.run_vs(["run", "-j", "2"] + tool, data, timeout=120)
            self.assertOk(r, "call %d" % i)
            self.assertBytesEqual(r.stdout, expected.stdout, "call %d" % i)

    def test_callers_spread_over_two_instances_get_their_own_bytes(self):
        tool = self.splitter()
        datas = [varying_input(3000, every=31 + i, offset=20).replace(b"line", b"c%d" % i) for i in range(6)]
        self.assertOk(self.run_vs(["run", "-j", "2"] + tool, datas[0]))
        for i, r in enumerate(self.concurrently(["run", "-j", "2"] + tool, datas)):
            self.assertOk(r, "caller %d" % i)
            self.assertBytesEqual(r.stdout, self.direct(tool, datas[i]).stdout, "caller %d" % i)

    def test_the_reproductions_twenty_times(self):
        cases = [(["sed", "-u", "s/x/\\n/"], b"a\nb\nc\nd x e\nf\ng\n")]
        if have("jq"):
            cases.append((["jq", "-c", ".[]"], b"[1]\n[2]\n[3]\n[4,5]\n"))
        for tool, data in cases:
            expected = self.direct(tool, data)
            for i in range(20):
                r = self.run_vs(["run"] + tool, data)
                self.assertOk(r, "%s, run %d" % (tool[0], i))
                self.assertBytesEqual(r.stdout, expected.stdout, "%s, run %d" % (tool[0], i))

    def test_thirty_callers_of_tools_of_varying_answers(self):
        tools = [["sed", "-u", "s/x/\\n/"], ["grep", "--line-buffered", "1"]]
        if have("jq"):
            tools.append(["jq", "-c", ".[]"])
        for tool in tools:
            if tool[0] == "jq":
                datas = [b"".join(b"[%d%s]\n" % (j, b",%d" % (i * 1000 + j) * (j % 3)) for j in range(1, 60))
                         for i in range(30)]
            else:
                datas = [b"".join(b"1 c%d l%d%s\n" % (i, j, b" x y" if (j + i) % 7 == 0 else b"")
                                  for j in range(1, 120)) for i in range(30)]
            self.assertOk(self.run_vs(["run"] + tool, datas[0]))
            for i, r in enumerate(self.concurrently(["run"] + tool, datas)):
                self.assertOk(r, "%s, caller %d" % (tool[0], i))
                self.assertBytesEqual(r.stdout, self.direct(tool, datas[i]).stdout, "%s, caller %d" % (tool[0], i))

    def test_a_tool_that_breaks_the_framing_given_fails_loudly(self):
        # The user said one line per record (--pipe); sed answers two.
        tool = ["sed", "-u", "s/$/\\nextra/"]
        for i in range(20):
            r = self.run_vs(["run", "--pipe"] + tool, b"a\nb\n")
            self.assertNotEqual(r.returncode, 0, "run %d: status 0 with %r" % (i, r.stdout))
            self.assertErrorLine(r, "framing")

    def test_a_tool_that_answers_too_little_for_the_framing_given_fails_loudly(self):
        tool = ["grep", "--line-buffered", "1"]
        r = self.run_vs(["run", "--pipe"] + tool, b"1\n2\n3\n")
        self.assertNotEqual(r.returncode, 0, "status 0 with %r" % r.stdout)
        self.assertErrorLine(r)

    def test_callers_of_a_tool_that_breaks_the_framing_never_get_each_others_bytes(self):
        tool = ["sed", "-u", "s/$/\\nextra/"]
        datas = [b"".join(b"c%d r%d\n" % (i, j) for j in range(200)) for i in range(10)]
        for args in (["run", "--pipe"], ["run", "--pipe", "-j", "2"], ["run", "-T", "^extra$"]):
            results = self.concurrently(args + tool, datas)
            for i, r in enumerate(results):
                foreign = [b"c%d r" % k for k in range(10) if k != i]
                self.assertOwnBytesOrLoud(r, self.direct(tool, datas[i]), foreign, "%s, caller %d" % (args, i))
            if args[-1] != "^extra$":
                self.assertTrue(any(r.returncode != 0 for r in results), "%s: no caller failed" % args)
            else:
                # -T '^extra$' is the right framing: every caller succeeds.
                for i, r in enumerate(results):
                    self.assertOk(r, "-T, caller %d" % i)

    def test_a_tool_that_keeps_to_the_framing_given_is_served_by_many_callers(self):
        tool = ["sed", "-u", "s/^/> /"]
        datas = [b"".join(b"c%d r%d\n" % (i, j) for j in range(500)) for i in range(12)]
        for i, r in enumerate(self.concurrently(["run", "--pipe", "-j", "2"] + tool, datas)):
            self.assertOk(r, "caller %d" % i)
            self.assertBytesEqual(r.stdout, self.direct(tool, datas[i]).stdout, "caller %d" % i)

    def test_a_call_served_as_a_direct_run_gets_its_input_as_it_is(self):
        # `cat -n` numbers lines (state): every call after the one it is
        # learned on is a direct run, and a direct run's last line without a
        # newline stays without one, also where -t '^$' would complete a
        # record with a blank line. (The call it is learned on shares its
        # instance's output framing: its last line is completed.)
        tool = ["cat", "-n"]
        for args in (["run"], ["run", "-t", "^$"]):
            self.assertOk(self.run_vs(args + tool, b"learn\n"))
        for args, data in ((["run"], b"a\nb"), (["run"], b"one line"), (["run", "-t", "^$"], b"a\n\nb")):
            expected = self.direct(tool, data)
            for call in ("first", "second"):
                r = self.run_vs(args + tool, data)
                self.assertOk(r, "%s %r, %s" % (args, data, call))
                self.assertBytesEqual(r.stdout, expected.stdout, "%s %r, %s" % (args, data, call))

    def test_a_tool_that_buffers_under_framing_given_gets_an_instance_per_call(self):
        # -L says how answers end, not that the tool flushes: this one
        # buffers on a pipe (and numbers its lines), so every call is a
        # direct run on an instance of its own, concurrent callers too.
        tool = ["python3", self.write_file("number.py", "import sys\nfor n, l in enumerate(sys.stdin, 1):\n"
                                                      "    sys.stdout.write('%d: %s' % (n, l))\n")]
        datas = [b"".join(b"c%d r%d\n" % (i, j) for j in range(3)) for i in range(4)]
        for i in range(2):
            r = self.run_vs(["run", "-L"] + tool, datas[i])
            self.assertOk(r, "call %d" % i)
            self.assertBytesEqual(r.stdout, self.direct(tool, datas[i]).stdout, "call %d" % i)
        for i, r in enumerate(self.concurrently(["run", "-L"] + tool, datas)):
            self.assertOk(r, "caller %d" % i)
            self.assertBytesEqual(r.stdout, self.direct(tool, datas[i]).stdout, "caller %d" % i)

    def test_a_tool_that_prints_at_the_end_of_its_input_is_served_directly_once_seen(self):
        # What a tool prints once its input closes is lost on an instance
        # that outlives the call (a known limit); once an instance shows it
        # (its input closed by `stop`, an idle exit or a retire), every
        # call is a direct run, and the next daemon knows it from the start.
        tool = ["python3", self.write_file("total.py", "import sys\nn = 0\nfor l in sys.stdin:\n"
                                                     "    n += 1; print(l.upper(), end='', flush=True)\n"
                                                     "print('total', n)\n")]
        data = b"a\nb\nc\n"
        expected = self.direct(tool, data)
        for i in range(2):
            self.assertOk(self.run_vs(["run"] + tool, data), "call %d" % i)
        self.assertOk(self.run_vs(["stop", "--all"], timeout=60))
        [learned] = [n for n in os.listdir(os.path.join(self.state_dir, "logs")) if n.endswith(".learned")]
        with open(os.path.join(self.state_dir, "logs", learned)) as f:
            self.assertIn('"stateful":true', f.read())
        for i in range(3):
            r = self.run_vs(["run"] + tool, data)
            self.assertOk(r, "call %d after the stop" % i)
            self.assertBytesEqual(r.stdout, expected.stdout, "call %d after the stop" % i)

    def test_a_tool_that_exits_after_answering_ends_the_call_as_its_direct_run(self):
        # It answers "die" and exits 3 with nothing else in flight; the
        # call's next records come after. A direct run stops there with 3;
        # before, a new instance answered them and the call ended with 0.
        tool = ["python3", self.write_file("dier.py", "import sys\n"
                                                      "for line in sys.stdin:\n"
                                                      "    print(line, end='', flush=True)\n"
                                                      "    if line == 'die\\n':\n"
                                                      "        sys.exit(3)\n")]
        self.assertOk(self.run_vs(["run"] + tool, b"warm\n"))
        [daemon] = self.live_daemon_pids()
        [instance] = [pid for pid, state in child_pids(daemon).items() if state not in b"ZX"]
        call = self.spawn_vs(["run"] + tool)
        call.stdin.write(b"a\nb\ndie\n")
        call.stdin.flush()
        got = b""
        while not got.endswith(b"die\n"):
            chunk = call.stdout.read1(4096)
            self.assertTrue(chunk, "the call ended before 'die' was answered")
            got += chunk
        self.assertEqual(wait_dead([instance], HANG_TIMEOUT), [], "the tool did not exit")
        try:
            call.stdin.write(b"c\nd\n")
            call.stdin.close()
        except BrokenPipeError:
            pass
        call.stdin = None  # closed: communicate() only reads
        rest, err = call.communicate(timeout=30 * TIME_SCALE)
        self.assertEqual((call.returncode, got + rest), (3, b"a\nb\ndie\n"), err)
        self.assertIn(b"exited with status 3", err)


if __name__ == "__main__":
    unittest.main()
