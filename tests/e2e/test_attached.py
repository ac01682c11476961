"""Attached files: a call whose stdin is a regular file, or whose stdout is a
regular file or /dev/null, hands them to the daemon, which reads and writes
them itself (docs/DESIGN.md, "Attached files"). The bytes must be exactly
those of the direct run, the file offsets those a tool reading its input to
the end leaves, and a failure must say what failed.

Every other end-to-end module passes stdin and stdout as pipes, which the
client relays; this one uses files, the way a Makefile calls a tool."""

import os
import signal
import subprocess
import time
import unittest

from harness import DEFAULT_TIMEOUT, HANG_TIMEOUT, TOOLS, ViasockTestCase, pid_alive, wait_until

SLOWTOOL = os.path.join(TOOLS, "slowtool")

# Prints each line upper-cased through Python's default stdout buffering: on
# a pipe it answers nothing until its buffer fills, so the daemon learns to
# give it a terminal. PYTHONUNBUFFERED is unset by the harness.
BUFFERING_PY = "import sys\nfor line in sys.stdin:\n    sys.stdout.write(line.upper())\n"

# A warning on stderr before each answer.
WARNING_PY = ("import sys\nfor line in sys.stdin:\n"
              "    sys.stderr.write('warning: ' + line); sys.stderr.flush()\n"
              "    sys.stdout.write(line); sys.stdout.flush()\n")


class AttachedFilesTest(ViasockTestCase):

    def read(self, name):
        with open(os.path.join(self.tmp, name), "rb") as f:
            return f.read()

    def call(self, args, stdin_path, stdout_path, stderr=subprocess.PIPE, mode="wb", env=None):
        """One viasock call with stdin and stdout opened on files."""
        with open(stdin_path, "rb") as fin, open(stdout_path, mode) as fout:
            return subprocess.run([self.bin] + [str(a) for a in args], stdin=fin, stdout=fout,
                                  stderr=stderr, cwd=self.tmp, env=self._env(env),
                                  timeout=DEFAULT_TIMEOUT)

    def direct_to_file(self, tool, stdin_path, stdout_path, stderr=subprocess.PIPE):
        with open(stdin_path, "rb") as fin, open(stdout_path, "wb") as fout:
            return subprocess.run(tool, stdin=fin, stdout=fout, stderr=stderr, cwd=self.tmp,
                                  env=self._env(None), timeout=DEFAULT_TIMEOUT)

    def daemon_fds(self, pid):
        return len(os.listdir("/proc/%d/fd" % pid))

    def test_file_in_file_out_is_byte_identical(self):
        data = b"".join(b"line %d of a file \xff\xfe\n" % i for i in range(30000))
        src = self.write_file("in.txt", data)
        tools = {
            "cat": ["cat"],
            "awk": ["awk", "{ print NR \": \" $0; fflush() }"],
            "buffering python": [sys_python(), "-c", BUFFERING_PY],
            "banner": [SLOWTOOL, "--banner", "Welcome v1"],
        }
        for name, tool in tools.items():
            with self.subTest(tool=name):
                self.direct_to_file(tool, src, os.path.join(self.tmp, "expected"))
                expected = self.read("expected")
                for call in ("cold", "warm", "warm again"):
                    r = self.call(["run", "-v"] + tool, src, os.path.join(self.tmp, "out"))
                    self.assertOk(r, "%s %s" % (name, call))
                    self.assertBytesEqual(self.read("out"), expected, "%s %s" % (name, call))
                    if call != "cold":
                        self.assertIn(b"the daemon reads standard input and writes standard output itself",
                                      r.stderr, "%s %s" % (name, call))

    def test_each_stream_alone_and_dev_null(self):
        data = b"".join(b"record %d\n" % i for i in range(5000))
        src = self.write_file("in.txt", data)
        # stdin a file, stdout a pipe
        with open(src, "rb") as fin:
            r = subprocess.run([self.bin, "run", "-v", "tr", "a-z", "A-Z"], stdin=fin,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=self.tmp,
                               env=self._env(None), timeout=DEFAULT_TIMEOUT)
        self.assertOk(r)
        self.assertBytesEqual(r.stdout, data.upper())
        # stdin a pipe, stdout a file
        with open(os.path.join(self.tmp, "out"), "wb") as fout:
            r = subprocess.run([self.bin, "run", "-v", "tr", "a-z", "A-Z"], input=data, stdout=fout,
                               stderr=subprocess.PIPE, cwd=self.tmp, env=self._env(None),
                               timeout=DEFAULT_TIMEOUT)
        self.assertOk(r)
        self.assertIn(b"the daemon writes standard output itself", r.stderr)
        self.assertBytesEqual(self.read("out"), data.upper())
        # stdout /dev/null
        r = self.call(["run", "-v", "tr", "a-z", "A-Z"], src, os.devnull)
        self.assertOk(r)
        self.assertIn(b"the daemon reads standard input and writes standard output itself", r.stderr)

    def test_offsets_follow_a_direct_run(self):
        """Input is read from the file's current offset, which ends at the end
        of the file; output is appended where the file was opened to append."""
        data = b"".join(b"offset line %d\n" % i for i in range(20000))
        src = self.write_file("in.txt", data)
        out = self.write_file("out", b"kept before\n")
        skip = len(b"".join(b"offset line %d\n" % i for i in range(100)))
        for call in ("cold", "warm"):
            with open(src, "rb") as fin, open(out, "ab") as fout:
                fin.seek(skip)
                r = subprocess.run([self.bin, "run", "cat"], stdin=fin, stdout=fout, stderr=subprocess.PIPE,
                                   cwd=self.tmp, env=self._env(None), timeout=DEFAULT_TIMEOUT)
                self.assertOk(r, call)
                self.assertEqual(os.lseek(fin.fileno(), 0, os.SEEK_CUR), len(data), call)
        self.assertBytesEqual(self.read("out"), b"kept before\n" + 2 * data[skip:])

    def test_stderr_in_the_same_file(self):
        """2>&1 into one file: stdout stays with the client, which writes
        both. (How a warning and an answer interleave is known only per
        read of the tool's two pipes: each line is there, and each caller
        gets its own; see the manual.)"""
        data = b"".join(b"w%d\n" % i for i in range(300))
        src = self.write_file("in.txt", data)
        tool = [sys_python(), "-c", WARNING_PY]
        with open(src, "rb") as fin, open(os.path.join(self.tmp, "expected"), "wb") as fout:
            subprocess.run(tool, stdin=fin, stdout=fout, stderr=subprocess.STDOUT, cwd=self.tmp,
                           env=self._env(None), timeout=DEFAULT_TIMEOUT)
        for call in ("cold", "warm"):
            r = self.call(["run", "-v", "--pipe", "-L"] + tool, src, os.path.join(self.tmp, "out"),
                          stderr=subprocess.STDOUT)
            self.assertEqual(r.returncode, 0, call)
            lines = self.read("out").splitlines()
            self.assertIn(b"viasock: the daemon reads standard input itself", lines, call)
            got = [l for l in lines if not l.startswith(b"viasock:")]
            self.assertEqual(sorted(got), sorted(self.read("expected").splitlines()), call)
            answers = [l for l in got if not l.startswith(b"warning: ")]
            self.assertEqual(answers, data.splitlines(), call)

    def test_several_clients_and_instances(self):
        srcs = [self.write_file("in%d" % c, b"".join(b"client %d record %d\n" % (c, i) for i in range(40000 + 5000 * c)))
                for c in range(4)]
        for options in (["-j", "1"], ["-j", "3"]):
            procs = []
            for c, src in enumerate(srcs):
                fin, fout = open(src, "rb"), open(os.path.join(self.tmp, "out%d" % c), "wb")
                procs.append(subprocess.Popen([self.bin, "run"] + options + ["tr", "a-z", "A-Z"], stdin=fin,
                                              stdout=fout, stderr=subprocess.PIPE, cwd=self.tmp,
                                              env=self._env(None)))
                fin.close()
                fout.close()
            for c, p in enumerate(procs):
                _, err = p.communicate(timeout=60)
                self.assertEqual(p.returncode, 0, "%s client %d: %r" % (options, c, err))
                with open(srcs[c], "rb") as f:
                    self.assertBytesEqual(self.read("out%d" % c), f.read().upper(), "%s client %d" % (options, c))

    def test_failures_name_the_stream(self):
        src = self.write_file("in.txt", b"a\nb\n")
        self.assertOk(self.call(["run", "cat"], src, os.path.join(self.tmp, "out")))
        # stdin open for writing only: reading it fails, as the tool's read would
        fd = os.open(os.path.join(self.tmp, "wonly"), os.O_WRONLY | os.O_CREAT, 0o600)
        try:
            r = subprocess.run([self.bin, "run", "cat"], stdin=fd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               cwd=self.tmp, env=self._env(None), timeout=DEFAULT_TIMEOUT)
        finally:
            os.close(fd)
        self.assertNotEqual(r.returncode, 0)
        self.assertErrorLine(r, b"cannot read standard input")
        # stdout open for reading only
        with open(src, "rb") as fin, open(src, "rb") as ronly:
            r = subprocess.run([self.bin, "run", "cat"], stdin=fin, stdout=ronly, stderr=subprocess.PIPE,
                               cwd=self.tmp, env=self._env(None), timeout=DEFAULT_TIMEOUT)
        self.assertNotEqual(r.returncode, 0)
        self.assertErrorLine(r, b"cannot write standard output")
        # a record over --max-record, read from the file (a daemon of its
        # own: the option is the starting call's)
        big = self.write_file("big.txt", b"x" * 300000 + b"\n")
        r = self.call(["run", "--max-record", "64K", "tr", "x", "y"], big, os.path.join(self.tmp, "out"))
        self.assertNotEqual(r.returncode, 0)
        self.assertErrorLine(r, b"--max-record")
        # the daemon goes on
        r = self.call(["run", "cat"], src, os.path.join(self.tmp, "out"))
        self.assertOk(r)
        self.assertBytesEqual(self.read("out"), b"a\nb\n")

    def test_killed_client_stops_its_output_and_leaks_nothing(self):
        src = self.write_file("in.txt", b"".join(b"slow record %d\n" % i for i in range(400)))
        tool = [SLOWTOOL, "--mode", "echo"]
        self.assertOk(self.call(["run", "-L", "--pipe"] + tool, self.write_file("one", b"x\n"),
                                os.path.join(self.tmp, "out")))
        daemon = self.live_daemon_pids()[0]
        baseline = self.daemon_fds(daemon)
        # A tool that takes a while per record: slowtool with a 5 ms sleep
        # per record is not available, so the stream is made slow by its size.
        out = os.path.join(self.tmp, "killed-out")
        with open(src, "rb") as fin, open(out, "wb") as fout:
            p = subprocess.Popen([self.bin, "run", "-L", "--pipe"] + tool, stdin=fin, stdout=fout,
                                 stderr=subprocess.PIPE, cwd=self.tmp, env=self._env(None))
        self.children.append(p)
        p.send_signal(signal.SIGKILL)
        p.wait(timeout=10)
        # The daemon sees the client go and closes the client's files.
        self.assertTrue(wait_until(lambda: self.daemon_fds(daemon) <= baseline, timeout=HANG_TIMEOUT),
                        "daemon holds %d descriptors, %d before" % (self.daemon_fds(daemon), baseline))
        size = os.path.getsize(out)
        time.sleep(0.3)
        self.assertEqual(os.path.getsize(out), size, "output still grows after its client was killed")
        for _ in range(3):
            self.assertOk(self.call(["run", "-L", "--pipe"] + tool, src, os.path.join(self.tmp, "out")))
            self.assertBytesEqual(self.read("out"), self.read("in.txt"))
        self.assertTrue(wait_until(lambda: self.daemon_fds(daemon) <= baseline, timeout=HANG_TIMEOUT))


def sys_python():
    import sys
    return sys.executable


if __name__ == "__main__":
    unittest.main()
