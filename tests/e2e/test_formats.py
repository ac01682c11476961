"""Record formats (-t/-T, -0), preludes (-P, --prelude-lines), large and
unterminated records, the per-record timeout (-w), and output the tool prints
when no record is pending."""

import concurrent.futures
import os
import threading
import time
import unittest

from harness import HANG_TIMEOUT, SLOWTOOL, ViasockTestCase, have, log, wait_until

HUNSPELL = ["hunspell", "-a", "-d", "en_US"]

# Texts for hunspell: every line starts with '^' so that hunspell never takes
# it for a command (lines starting with one of *&@+-~#!% are commands).
TEXTS = [
    b"hello wrold\nthe quick brown fox\n",
    b"speling mistaks evrywhere\n",
    b"a perfectly correct sentence\nanother one\nand a thrid\n",
    b"recieve the pacakge tomorow\n",
    b"12345 numbers and wrds\n\n",
    b"colour centre theatre\nneighbour\n",
    b"Lorem ipsum dolor sit amet\nconsectetur adipiscing elit\n",
]


def hunspell_input(text, repeat=1):
    lines = text.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    return b"".join(b"^" + line + b"\n" for line in lines) * repeat


def have_hunspell_en_us():
    if not have("hunspell"):
        return False
    import subprocess
    try:
        r = subprocess.run(HUNSPELL, input=b"^hello\n", stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=20)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return r.returncode == 0 and r.stdout.startswith(b"@(#)")


# A line filter that upper-cases every line and always terminates its answer.
PY_UPPER = (
    "import sys\n"
    "for line in iter(sys.stdin.buffer.readline, b''):\n"
    "    body = line[:-1] if line.endswith(b'\\n') else line\n"
    "    sys.stdout.buffer.write(body.upper() + b'\\n')\n"
    "    sys.stdout.buffer.flush()\n"
)

# A line filter that prints lines nobody asked for: one at start-up, before
# it reads any input, and one ("TICK") whenever its input stays idle for
# 0.3 s after an answer.  It touches READY_FILE once the first is written.
PY_UNSOLICITED = r"""
import os, select, sys
def out(b):
    while b:
        b = b[os.write(1, b):]
out(b"UNSOLICITED AT START\n")
open(os.environ["READY_FILE"], "a").close()
buf = b""
answered = False
while True:
    r, _, _ = select.select([0], [], [], 0.3)
    if not r:
        if answered:
            out(b"TICK\n")
            answered = False
        continue
    chunk = os.read(0, 65536)
    if not chunk:
        break
    buf += chunk
    while b"\n" in buf:
        line, buf = buf.split(b"\n", 1)
        out(line.upper() + b"\n")
        answered = True
if buf:
    out(buf.upper() + b"\n")
out(b"BYE\n")
"""


class HunspellTest(ViasockTestCase):
    CMD = ["run", "-T", "^$", "--prelude-lines", "1"] + HUNSPELL

    def setUp(self):
        super().setUp()
        if not have_hunspell_en_us():
            self.skipTest("hunspell with the en_US dictionary is not installed")

    def test_one_client_byte_identical(self):
        data = b"".join(hunspell_input(t) for t in TEXTS)
        direct = self.direct(HUNSPELL, data)
        self.assertEqual(direct.returncode, 0, direct.stderr)
        for call in range(2):   # cold, then warm
            with self.subTest(call=call):
                vs = self.run_vs(self.CMD, data)
                self.assertOk(vs)
                self.assertSameAsDirect(vs, direct, "hunspell output (call %d)" % call)
        self.assertEqual(len(self.run_jsons()), 1)

    def test_six_concurrent_clients(self):
        warm = self.run_vs(self.CMD, hunspell_input(b"warm up"))
        self.assertOk(warm)
        # Suggestions are slow (milliseconds per misspelt word): a few
        # misspelt lines, then many correct ones.
        words = [b"quick", b"brown", b"lazy", b"happy", b"green", b"small"]
        inputs = [hunspell_input(TEXTS[c], repeat=3)
                  + b"".join(b"^client %d says the %s dog number %d is fine\n"
                             % (c, words[(c + i) % 6], i) for i in range(200 + 50 * c))
                  for c in range(6)]
        expected = []
        for data in inputs:
            d = self.direct(HUNSPELL, data)
            self.assertEqual(d.returncode, 0, d.stderr)
            expected.append(d.stdout)
        banner = expected[0].split(b"\n", 1)[0] + b"\n"
        self.assertTrue(banner.startswith(b"@(#)"), banner)
        barrier = threading.Barrier(6, timeout=20)

        def one(c):
            barrier.wait()
            return self.run_vs(self.CMD, inputs[c], timeout=40)

        with concurrent.futures.ThreadPoolExecutor(max_workers=6) as pool:
            results = list(pool.map(one, range(6)))
        for c, r in enumerate(results):
            with self.subTest(client=c):
                self.assertOk(r, "client %d" % c)
                self.assertEqual(r.stdout.count(banner), 1, "banner once, client %d" % c)
                self.assertTrue(r.stdout.startswith(banner))
                self.assertBytesEqual(r.stdout, expected[c], "hunspell output of client %d" % c)
        self.assertEqual(len(self.run_jsons()), 1, "one daemon")


class RecordFormatTest(ViasockTestCase):
    def check(self, options, tool, data, expected=None):
        direct = self.direct(tool, data)
        self.assertEqual(direct.returncode, 0, direct.stderr)
        if expected is not None:
            self.assertBytesEqual(direct.stdout, expected, "direct output")
        for call in range(2):
            vs = self.run_vs(["run"] + options + tool, data)
            self.assertOk(vs)
            self.assertSameAsDirect(vs, direct, "output of call %d" % call)

    def test_eos_sentinel(self):
        data = b"".join(b"record %d %s\n" % (i, b"x" * (i % 5)) for i in range(3000))
        data += b"\nEOS-like EOS\nlast\n"
        self.check(["-T", "^EOS$"], self.slowtool("--eos"), data)

    def test_null_terminated(self):
        data = b"".join(b"rec\n%d\twith newline\n\0" % i for i in range(3000))
        data += b"\0\0line\nonly\0"
        self.check(["-0"], self.slowtool("--null"), data)

    def test_paragraphs(self):
        data = b"".join(b"para %d line a\npara %d line b\n%s\n"
                        % (i, i, b"third line\n" * (i % 3)) for i in range(2000))
        self.check(["-t", "^$"], self.slowtool("--paragraph"), data,
                   expected=None)
        small = b"a\nb\n\nc\n\n"
        self.check(["-t", "^$"], self.slowtool("--paragraph"), small,
                   expected=b"A B\nC\n")


class PreludeTest(ViasockTestCase):
    def test_banner_to_every_client(self):
        starts = self.starts_file()
        env = self.starts_env(starts)
        cmd = ["run", "-P", "1"] + self.slowtool("--banner", "Welcome banner v1")
        for i in range(3):
            data = b"call %d\nline two\n" % i
            r = self.run_vs(cmd, data, env=env)
            self.assertOk(r)
            self.assertBytesEqual(r.stdout, b"Welcome banner v1\n" + data.upper(),
                                  "output of call %d" % i)
        self.assertEqual(len(self.started_pids(starts)), 1, "one tool start")

    def test_prelude_longer_than_the_banner_fails_loudly(self):
        """-P 2 on a one-line banner: the tool waits for input before its
        prelude is complete. Every call fails naming -P; no answer of one
        call becomes part of the prelude sent to later ones."""
        cmd = ["run", "-P", "2"] + self.slowtool("--banner", "Welcome banner v1")
        for i in range(2):
            r = self.run_vs(cmd, b"secret of call %d\n" % i, timeout=30)
            self.assertEqual(r.returncode, 1, r.stderr)
            self.assertErrorLine(r, "1 of its 2", "-P 2")
            self.assertNotIn(b"SECRET", r.stdout)


class LargeAndPartialRecordTest(ViasockTestCase):
    def test_20mb_record(self):
        chunk = bytes(b for b in range(256) if b != 10)
        size = 20 * 1024 * 1024
        line = (chunk * (size // len(chunk) + 1))[:size] + b"\n"
        for call in range(2):
            r = self.run_vs(["run", "cat"], line, timeout=40)
            self.assertOk(r)
            self.assertBytesEqual(r.stdout, line, "20 MB record, call %d" % call)

    def test_unterminated_last_record(self):
        cmd = ["python3", "-u", "-c", PY_UPPER]
        for call in range(2):
            r = self.run_vs(["run"] + cmd, b"abc\ndef")
            self.assertOk(r)
            self.assertBytesEqual(r.stdout, b"ABC\nDEF\n", "call %d" % call)


class RecordTimeoutTest(ViasockTestCase):
    def test_hanging_record_times_out(self):
        starts = self.starts_file()
        env = self.starts_env(starts)
        cmd = ["run", "--pipe", "-w", "1"] + self.slowtool("--hang-on", "HANG")
        r = self.run_vs(cmd, b"warm\n", env=env)
        self.assertOk(r)
        self.assertEqual(r.stdout, b"WARM\n")

        t0 = time.monotonic()
        r = self.run_vs(cmd, b"first\nHANG\nafter\n", timeout=2 * HANG_TIMEOUT, env=env)
        elapsed = time.monotonic() - t0
        log("timed-out call: %.2f s, exit %d, stderr %r" % (elapsed, r.returncode, r.stderr))
        self.assertEqual(r.returncode, 124, r.stderr)
        # -w 1 ends the call; without it the call would wait forever for an
        # answer to HANG. This bounds that hang, not speed; the error line
        # below names the 1 s timeout.
        self.assertLess(elapsed, HANG_TIMEOUT)
        first = r.stderr.split(b"\n", 1)[0].lower()
        self.assertTrue(b"time" in first or b"within 1 s" in first,
                        "stderr names the timeout: %r" % first)
        self.assertErrorLine(r)
        self.assertNotIn(b"AFTER", r.stdout)

        r = self.run_vs(cmd, b"next\ncall\n", env=env)
        self.assertOk(r, "call after the timeout")
        self.assertBytesEqual(r.stdout, b"NEXT\nCALL\n")
        tools = self.started_pids(starts)
        self.assertEqual(len(tools), 2, "a new instance after the timeout: %r" % tools)


class UnsolicitedOutputTest(ViasockTestCase):
    def test_output_without_pending_record_never_reaches_a_later_client(self):
        ready = os.path.join(self.tmp, "ready")
        env = {"READY_FILE": ready}
        cmd = ["run", "--pipe", "python3", "-c", PY_UNSOLICITED]
        # The first call, without a record, is a direct run of the tool
        # (it is being learned): its start-up line and its last words.
        r = self.run_vs(cmd, b"", env=env)
        self.assertOk(r)
        self.assertBytesEqual(r.stdout, self.direct(cmd[2:], b"", env=env).stdout)
        self.assertTrue(wait_until(lambda: os.path.exists(ready), timeout=HANG_TIMEOUT),
                        "the tool did not start")
        time.sleep(0.5)   # the start-up line has reached the daemon

        # The start-up line is the prelude of every call.
        r = self.run_vs(cmd, b"abc\n", env=env)
        self.assertOk(r)
        self.assertBytesEqual(r.stdout, b"UNSOLICITED AT START\nABC\n", "first client")
        time.sleep(0.8)   # the tool prints TICK with no record pending

        r = self.run_vs(cmd, b"def\nghi\n", env=env)
        self.assertNotIn(b"TICK", r.stdout, "second client")
        if r.returncode == 0:
            self.assertBytesEqual(r.stdout, b"UNSOLICITED AT START\nDEF\nGHI\n", "second client")
        else:
            self.assertErrorLine(r)
        self.assertEqual(len(self.run_jsons()), 1, "one daemon")



# A tool whose answers come from its own timers, D seconds after each record:
# the main thread is back in read(2) or select(2) on stdin while an answer is
# still due. "loop": one thread, select() with the next deadline as timeout;
# "thread": a timer thread per answer.
PY_TIMER_ANSWERS = r"""
import os, selectors, sys, threading, time
with open(os.environ["STARTS"], "a") as f:
    f.write("%d\n" % os.getpid())
D = float(os.environ["DELAY"])
def answer(data):
    os.write(1, data.upper())
if sys.argv[1] == "thread":
    lines = []
    ready = threading.Condition()
    def answer_in_order():
        while True:
            with ready:
                while not lines:
                    ready.wait()
                due, line = lines.pop(0)
            time.sleep(max(0, due - time.monotonic()))
            if line is None:
                return
            answer(line)
    timer = threading.Thread(target=answer_in_order)
    timer.start()
    for line in iter(sys.stdin.buffer.readline, b""):
        with ready:
            lines.append((time.monotonic() + D, line))
            ready.notify()
    with ready:
        lines.append((0, None))
        ready.notify()
    timer.join()
    sys.exit(0)
sel = selectors.DefaultSelector()
sel.register(0, selectors.EVENT_READ)
due, rest = [], b""
while True:
    events = sel.select(max(0, due[0][0] - time.monotonic()) if due else None)
    while due and due[0][0] <= time.monotonic():
        answer(due.pop(0)[1])
    if events:
        data = os.read(0, 65536)
        if not data:
            break
        rest += data
        while b"\n" in rest:
            line, rest = rest.split(b"\n", 1)
            due.append((time.monotonic() + D, line + b"\n"))
for when, line in due:
    time.sleep(max(0, when - time.monotonic()))
    answer(line)
"""


class LateAnswerTest(ViasockTestCase):
    """With --pipe the user says the tool answers every record with a line;
    one that answers from a timer a moment later is served like any other
    (one instance for all calls), not taken for a tool that answered nothing."""

    def check_served_once(self, kind, delay, options=(), records=20):
        starts = self.starts_file("starts-" + kind)
        env = {"STARTS": starts, "DELAY": str(delay)}
        cmd = ["run", "--pipe"] + list(options) + ["python3", "-c", PY_TIMER_ANSWERS, kind]
        records = b"".join(b"%s %d\n" % (kind.encode(), i) for i in range(records))
        expected = records.upper()
        for call in range(3):
            r = self.run_vs(cmd, records, env=env, timeout=60)
            self.assertOk(r, "%s call %d" % (kind, call))
            self.assertBytesEqual(r.stdout, expected, "%s call %d" % (kind, call))
        with concurrent.futures.ThreadPoolExecutor(3) as pool:
            results = list(pool.map(lambda _: self.run_vs(cmd, records, env=env, timeout=60), range(3)))
        for r in results:
            self.assertOk(r, "%s concurrent call" % kind)
            self.assertBytesEqual(r.stdout, expected, "%s concurrent call" % kind)
        self.assertEqual(len(self.started_pids(starts)), 1,
                         "%s: one start for six calls\n%s" % (kind, self.log_tails()))

    def test_answers_from_an_event_loop_timer(self):
        self.check_served_once("loop", 0.05)

    def test_answers_from_a_timer_thread(self):
        self.check_served_once("thread", 0.05)

    def test_a_slower_timer_is_served_within_the_record_timeout(self):
        # -w is the user's word for how long an answer may take (the state
        # probe's answers included). Few records: each takes the delay.
        self.check_served_once("loop", 1.5, ["-w", "5"], records=2)

    def test_a_tool_that_answers_nothing_still_fails_loudly(self):
        cmd = ["run", "--pipe", "python3", "-c", PY_TIMER_ANSWERS, "loop"]
        env = {"STARTS": self.starts_file(), "DELAY": "0.01"}
        r = self.run_vs(cmd, b"one\n", env=env)
        self.assertOk(r)
        # A tool that swallows every record "b".
        swallow = ["run", "--pipe", "sed", "-u", "/^b$/d"]
        r = self.run_vs(swallow, b"a\nb\nc\n")
        direct = self.direct(swallow[2:], b"a\nb\nc\n")
        if r.returncode == 0:
            self.assertBytesEqual(r.stdout, direct.stdout)
        else:
            self.assertErrorLine(r, b"sed")
        r = self.run_vs(swallow, b"a\nb\nc\n" * 5)
        self.assertNotEqual(r.returncode, 0, "a tool that breaks the framing given fails the call")
        self.assertErrorLine(r, b"sed", b"drop the framing options")
        self.assertNotIn(b"probe", r.stderr, "probe would fail the same way")


if __name__ == "__main__":
    unittest.main()
