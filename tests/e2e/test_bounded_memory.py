"""A daemon's memory stays bounded whatever its callers send or fail to
read: a record over --max-record or an answer over --max-answer fails its
own call only, a large record's memory is returned once answered, DATA
frames are at most 1 MiB, and answers wait in the tool, not the daemon,
for a client that does not read."""

import os
import socket
import struct
import subprocess
import threading
import time
import unittest

from harness import HANG_TIMEOUT, SANITIZED, TIME_SCALE, ViasockTestCase, log, wait_until
from processes import MiB, proc_status


def frame(kind, payload=b""):
    return kind + struct.pack("<I", len(payload)) + payload


def read_frames(sock, timeout):
    """Reads frames until EXIT; returns [(type, payload)]."""
    sock.settimeout(timeout)
    data = b""
    frames = []
    while True:
        while len(data) >= 5:
            length = struct.unpack("<I", data[1:5])[0]
            if len(data) < 5 + length:
                break
            frames.append((data[:1], data[5:5 + length]))
            data = data[5 + length:]
            if frames[-1][0] == b"X":
                return frames
        chunk = sock.recv(1 << 16)
        if not chunk:
            return frames
        data += chunk


class BoundedMemoryTest(ViasockTestCase):
    def test_endless_record_fails_its_call_only(self):
        cmd = ["run", "--max-record", "32M", "-W", "0", "cat"]
        self.assertOk(self.run_vs(cmd, b"warm\n"))
        daemon = self.the_daemon()

        lines = b"".join(b"line %d of the stream\n" % i for i in range(300000))
        stream = self.spawn_vs(cmd)
        stream_result = {}

        def feed_stream():
            out, err = stream.communicate(lines, timeout=60)
            stream_result.update(out=out, err=err, rc=stream.returncode)

        feeder = threading.Thread(target=feed_stream, daemon=True)
        feeder.start()

        zeros = subprocess.Popen(["head", "-c", "1500000000", "/dev/zero"], stdout=subprocess.PIPE,
                                 cwd=self.tmp)
        self.extra_pids.append(zeros.pid)
        t0 = time.monotonic()
        big = self.spawn_vs(cmd, stdin=zeros.stdout)
        zeros.stdout.close()
        try:
            # Bounds a hang (a record never refused), not speed.
            out, err = big.communicate(timeout=HANG_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.fail("a record over --max-record was not refused within %d s" % HANG_TIMEOUT)
        elapsed = time.monotonic() - t0
        zeros.kill()
        zeros.wait(timeout=5)
        log("endless record: exit %d after %.1f s: %r" % (big.returncode, elapsed, err))
        self.assertNotIn(big.returncode, (0, 2, 124))
        self.assertIn(b"--max-record 32M", err)
        self.assertTrue(err.startswith(b"viasock: error: "), err)

        feeder.join(60)
        self.assertEqual(stream_result.get("rc"), 0, stream_result.get("err"))
        self.assertBytesEqual(stream_result["out"], lines, "the stream beside the endless record")

        peak = proc_status(daemon, "VmHWM")
        log("daemon peak RSS %.1f MiB" % (peak / MiB))
        if not SANITIZED:
            self.assertLess(peak, 200 * MiB)
        r = self.run_vs(cmd, b"next\n")
        self.assertOk(r, "the call after the refused one")
        self.assertEqual(r.stdout, b"next\n")
        self.assertEqual(self.the_daemon(), daemon, "the same daemon serves on")

    def test_large_record_memory_is_returned(self):
        # The first record of a new daemon goes to the pipe candidate and,
        # when its answer proves no flushing, to a terminal candidate after
        # it; later ones to the one instance that serves. Either way nothing
        # of the record stays once it is answered.
        record = b"r" * (32 * MiB) + b"\n"
        path = os.path.join(self.tmp, "record")
        with open(path, "wb") as f:
            f.write(record)
        cmd = [self.bin, "run", "-W", "60", "cat"]
        self.assertOk(self.run_vs(cmd[1:], b""))
        daemon = self.the_daemon()
        for which in ("learning", "learned"):
            with open("/proc/%d/clear_refs" % daemon, "w") as f:
                f.write("5")  # resets VmHWM to what is resident now
            with open(path, "rb") as stdin:
                r = subprocess.run(cmd, stdin=stdin, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                   cwd=self.tmp, env=self._env(None), timeout=60)
            self.assertOk(r, "the %s daemon" % which)
            self.assertBytesEqual(r.stdout, record, "a 32 MiB record (%s)" % which)
            peak = proc_status(daemon, "VmHWM")
            settled = wait_until(lambda: proc_status(daemon, "VmRSS") < 32 * MiB, 5)
            log("%s: peak %.1f MiB, resident %.1f MiB" % (which, peak / MiB, proc_status(daemon, "VmRSS") / MiB))
            if SANITIZED:
                continue
            self.assertTrue(settled, "the daemon kept %d bytes resident" % proc_status(daemon, "VmRSS"))
            # An answer this large proves no flushing (a buffering tool may
            # write it straight through): the learning call is a direct run,
            # whose output is kept for the comparison with the terminal
            # candidate, which then answers the record too. Once learned,
            # at most three copies are alive at once: the record as read,
            # the bytes being written to the tool, and its answer (on a
            # loaded machine the answer fills before the record's bytes
            # are let go: 2.8 copies were seen).
            self.assertLess(peak, (6 if which == "learning" else 3.2) * len(record) + 8 * MiB, which)

    def test_data_frames_are_bounded(self):
        # A raw client reads the frames themselves: one 3 MiB answer comes in
        # frames of at most 1 MiB.
        self.assertOk(self.run_vs(["run", "-W", "0", "cat"], b"warm\n"))
        [path] = self.sockets()
        record = b"x" * (3 * MiB) + b"\n"
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.connect(path)
            sock.sendall(frame(b"H", b"run"))
            for at in range(0, len(record), 256 * 1024):
                sock.sendall(frame(b"D", record[at:at + 256 * 1024]))
            sock.sendall(frame(b"E"))
            frames = read_frames(sock, 30)
        data = [payload for kind, payload in frames if kind == b"D"]
        log("DATA frame sizes: %r" % [len(d) for d in data])
        self.assertEqual(frames[-1][0], b"X")
        self.assertEqual(b"".join(data), record)
        self.assertLessEqual(max(len(d) for d in data), MiB)

    def test_short_answers_of_a_stream_are_gathered(self):
        # A tool that flushes every line a moment apart: its answers wait a
        # moment for the next ones instead of waking the client once a line,
        # and still arrive whole and in order.
        script = os.path.join(self.tmp, "slowecho.py")
        with open(script, "w") as f:
            f.write("import sys, time\nfor l in sys.stdin:\n"
                    "    time.sleep(0.0003); sys.stdout.write(l); sys.stdout.flush()\n")
        cmd = ["run", "-W", "0", "--pipe", "python3", script]
        self.assertOk(self.run_vs(cmd, b"warm\n"))
        [path] = self.sockets()
        lines = b"".join(b"line %d\n" % i for i in range(1000))
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.connect(path)
            began = time.monotonic()
            sock.sendall(frame(b"H", b"run") + frame(b"D", lines) + frame(b"E"))
            frames = read_frames(sock, 30)
            elapsed_ms = (time.monotonic() - began) * 1000
        data = [payload for kind, payload in frames if kind == b"D"]
        log("1000 answers in %d DATA frames, %.0f ms" % (len(data), elapsed_ms))
        self.assertEqual(frames[-1][0], b"X")
        self.assertEqual(b"".join(data), lines)
        # A frame goes out at most once a millisecond while more are due
        # (one per line would be 1000 frames in about 300 ms); however slow
        # the machine, the bound grows with the time the tool took.
        self.assertLessEqual(len(data), elapsed_ms + 20)

    def test_client_that_does_not_read_gets_no_more_work(self):
        # Every answer is 64 times its record: the answers of a client that
        # never reads must not pile up in the daemon beyond its back-pressure
        # (4 MiB) and the tool's window of records in flight.
        tool = ["gawk", "{ s = $0; for (i = 0; i < 6; i++) s = s s; print s; fflush() }"]
        self.assertOk(self.run_vs(["run", "-W", "0"] + tool, b"warm\n"))
        daemon = self.the_daemon()
        [path] = self.sockets()
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.connect(path)
            sock.sendall(frame(b"H", b"run"))
            line = b"y" * 99 + b"\n"
            chunk = frame(b"D", line * 2000)
            sock.setblocking(False)
            sent = 0
            pending = chunk
            deadline = time.monotonic() + 5
            while time.monotonic() < deadline:
                try:
                    n = sock.send(pending)  # whole frames only, however sent
                except BlockingIOError:
                    time.sleep(0.05)
                    continue
                sent += n
                pending = pending[n:] or chunk
            rss = proc_status(daemon, "VmRSS")
            log("sent %.1f MiB without reading; daemon RSS %.1f MiB" % (sent / MiB, rss / MiB))
            if not SANITIZED:
                self.assertLess(rss, 128 * MiB)
            r = self.run_vs(["run", "-W", "0"] + tool, b"other\n", timeout=30)
            self.assertOk(r, "another client beside the one that does not read")
            self.assertEqual(r.stdout, b"other" * 64 + b"\n")


    def test_answers_far_larger_than_records_wait_in_the_tool(self):
        # 100 records of 2 bytes go to the tool at once; each is answered
        # with 1 MiB. A client that does not read gets 4 MiB of backlog;
        # the rest waits in the tool, blocked writing, as in a direct run
        # whose reader is slow. Once that client is gone, the tool's output
        # is read (and dropped) and the daemon serves on.
        tool = ["python3", "-c", "import sys\n"
                "for line in sys.stdin:\n"
                "    sys.stdout.write(line[0] * (1 << 20) + '\\n')\n"
                "    sys.stdout.flush()\n"]
        self.assertOk(self.run_vs(["run", "-W", "0"] + tool, b"w\n"))
        daemon = self.the_daemon()
        [path] = self.sockets()
        with open("/proc/%d/clear_refs" % daemon, "w") as f:
            f.write("5")  # resets VmHWM to what is resident now
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.connect(path)
            sock.sendall(frame(b"H", b"run") + frame(b"D", b"a\n" * 100))
            time.sleep(3 * TIME_SCALE)
            peak = proc_status(daemon, "VmHWM")
        log("100 MiB of answers to a client that does not read: daemon peak RSS %.1f MiB" % (peak / MiB))
        if not SANITIZED:
            self.assertLess(peak, 48 * MiB, "the answers piled up in the daemon")
        r = self.run_vs(["run", "-W", "0"] + tool, b"b\n", timeout=30)
        self.assertOk(r, "the next call, once the client that did not read is gone")
        self.assertBytesEqual(r.stdout, b"b" * (1 << 20) + b"\n")
        self.assertEqual(self.live_daemon_pids(), [daemon])

    def test_a_slow_reader_is_not_a_slow_tool(self):
        # The caller reads nothing for twice -w: the tool, left blocked on
        # its write meanwhile, waits for the caller and is not timed out.
        tool = ["python3", "-c", "import sys\n"
                "for line in sys.stdin:\n"
                "    sys.stdout.write(line[0] * (1 << 16) + '\\n')\n"
                "    sys.stdout.flush()\n"]
        self.assertOk(self.run_vs(["run", "-w", "1", "-W", "0"] + tool, b"w\n"))
        data = b"".join(b"%c\n" % (ord("a") + i % 26) for i in range(100))
        p = self.spawn_vs(["run", "-w", "1", "-W", "0"] + tool)
        p.stdin.write(data)
        p.stdin.close()
        time.sleep(2 * TIME_SCALE)
        out = p.stdout.read()
        err = p.stderr.read()
        self.assertEqual(p.wait(timeout=30), 0, err)
        self.assertBytesEqual(out, self.direct(tool, data).stdout)


class RecordLimitTest(ViasockTestCase):
    def test_a_call_raises_a_running_daemons_record_limit(self):
        # The daemon was started with 64K; a later call asks for 1M.
        self.assertOk(self.run_vs(["run", "--max-record", "64K", "cat"], b"warm\n"))
        daemon = self.the_daemon()
        record = b"r" * (300 * 1024) + b"\n"
        r = self.run_vs(["run", "--max-record", "1M", "cat"], record)
        self.assertOk(r)
        self.assertBytesEqual(r.stdout, record)
        # Its own limit is the default or what it says; refused, status 1.
        r = self.run_vs(["run", "--max-record", "100K", "cat"], record)
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertErrorLine(r, "--max-record 100K")
        self.assertEqual(self.live_daemon_pids(), [daemon])


    def test_an_answer_over_max_answer_fails_its_call(self):
        # One record is answered with a 64 MiB line: held whole until its
        # end came, it would be held whole; past --max-answer the call fails
        # (status 1, the option named) and the daemon serves on.
        tool = ["python3", "-c", "import sys\n"
                "for line in sys.stdin:\n"
                "    sys.stdout.write('x' * (64 << 20) + '\\n' if line == 'big\\n' else line)\n"
                "    sys.stdout.flush()\n"]
        cmd = ["run", "--max-answer", "4M"] + tool
        self.assertOk(self.run_vs(cmd, b"warm\n"))
        daemon = self.the_daemon()
        with open("/proc/%d/clear_refs" % daemon, "w") as f:
            f.write("5")  # resets VmHWM to what is resident now
        r = self.run_vs(cmd, b"a\nbig\nb\n", timeout=60)
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertErrorLine(r, "--max-answer", "4M")
        peak = proc_status(daemon, "VmHWM")
        log("daemon peak RSS %.1f MiB with a 64 MiB answer over --max-answer 4M" % (peak / MiB))
        if not SANITIZED:
            self.assertLess(peak, 48 * MiB, "the daemon held the answer")
        r = self.run_vs(cmd, b"next\n")
        self.assertOk(r, "the call after the refused one")
        self.assertEqual(r.stdout, b"next\n")
        self.assertEqual(self.live_daemon_pids(), [daemon], "the same daemon serves on")


if __name__ == "__main__":
    unittest.main()
