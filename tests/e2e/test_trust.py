"""The client sends input only to a daemon of the caller's own: another user
listening at the path it is given receives nothing (not even the request),
and the call fails with status 125 and one line saying why."""

import json
import os
import shutil
import subprocess
import sys
import unittest

from harness import HANG_TIMEOUT, TIME_SCALE, ViasockTestCase, wait_until

# Listens at argv[1], accepts one client, answers like a daemon would
# (HELLO, then "forged" as output and status 0) and writes to argv[2] how
# many bytes the client sent it.
FAKE_SERVER = r"""
import os, socket, struct, sys
path, report = sys.argv[1], sys.argv[2]
server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
server.bind(path)
os.chmod(path, 0o777)
server.listen(1)
open(report + ".ready", "w").close()
server.settimeout(30)
conn, _ = server.accept()
conn.settimeout(2)
got = b""
try:
    conn.sendall(b"H" + struct.pack(">I", 0))
    while True:
        chunk = conn.recv(65536)
        if not chunk:
            break
        got += chunk
except OSError:
    pass
with open(report, "w") as f:
    f.write(str(len(got)))
"""


@unittest.skipUnless(os.geteuid() == 0 and shutil.which("setpriv"), "needs root and setpriv to act as another user")
class TrustTest(ViasockTestCase):

    def setUp(self):
        super().setUp()
        # A directory like /tmp: anyone may create files, sticky.
        os.chmod(self.tmp, 0o755)
        self.shared = os.path.join(self.tmp, "shared")
        os.mkdir(self.shared)
        os.chmod(self.shared, 0o1777)
        self.server_script = os.path.join(self.shared, "fake_server.py")
        with open(self.server_script, "w") as f:
            f.write(FAKE_SERVER)
        os.chmod(self.server_script, 0o644)
        self.secret = self.write_file("secret.txt", b"the contents of a 0600 file\n")
        os.chmod(self.secret, 0o600)

    def start_fake_server(self, name, as_nobody):
        sock = os.path.join(self.shared, name)
        report = sock + ".report"
        command = [sys.executable, self.server_script, sock, report]
        if as_nobody:
            command = ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups"] + command
        server = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        self.children.append(server)
        self.assertTrue(wait_until(lambda: os.path.exists(report + ".ready"), HANG_TIMEOUT),
                        "the fake server did not start")
        return sock, report, server

    def assert_refused(self, sock, report, server, reason):
        with open(self.secret, "rb") as stdin:
            r = subprocess.run([self.bin, "client", sock], stdin=stdin, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, cwd=self.tmp, env=self._env(None), timeout=30)
        self.assertEqual(r.returncode, 125, r.stderr)
        self.assertEqual(r.stdout, b"")
        self.assertEqual(len(r.stderr.splitlines()), 1, r.stderr)
        self.assertIn(reason, r.stderr)
        server.wait(timeout=30 * TIME_SCALE)
        with open(report) as f:
            self.assertEqual(f.read(), "0", "the fake server received bytes from the client")

    def test_a_server_of_another_user_gets_nothing(self):
        sock, report, server = self.start_fake_server("upper.sock", as_nobody=True)
        self.assert_refused(sock, report, server, b"served by another user (uid 65534")

    def test_a_socket_not_the_callers_own_in_a_shared_directory_gets_nothing(self):
        # Served by root, but the socket file belongs to someone else: in a
        # directory anyone may write, it is not the caller's daemon.
        sock, report, server = self.start_fake_server("upper.sock", as_nobody=False)
        os.chown(sock, 65534, 65534, follow_symlinks=False)
        self.assert_refused(sock, report, server, b"in a directory others may write")

    def test_a_registry_another_user_made_first_is_not_used(self):
        # Without $XDG_RUNTIME_DIR the registry would be $TMPDIR/viasock-UID,
        # a name anybody may take first.
        temp = os.path.join(self.tmp, "temp")
        os.mkdir(temp)
        os.chmod(temp, 0o1777)
        taken = os.path.join(temp, "viasock-%d" % os.geteuid())
        os.mkdir(taken, 0o700)
        os.chown(taken, 65534, 65534)
        home = os.path.join(self.tmp, "home")
        os.mkdir(home, 0o700)
        env = {"XDG_RUNTIME_DIR": None, "TMPDIR": temp, "HOME": home}
        self.assertOk(self.run_vs(["run", "cat"], b"x\n", env=env))
        [daemon] = self.live_daemon_pids()
        listed = self.run_vs(["list", "--all", "--json"], env=env)
        self.assertOk(listed)
        self.assertIn(daemon, [d["pid"] for d in json.loads(listed.stdout)])
        self.assertIn(b"belongs to uid 65534", listed.stderr)
        self.assertIn(os.path.join(home, ".cache", "viasock-registry").encode(), listed.stderr)
        self.assertEqual(os.listdir(taken), [])
        stopped = self.run_vs(["stop", "--all", "--everywhere"], env=env, cwd=home)
        self.assertOk(stopped)
        self.assertIn(b"stopped", stopped.stdout)
        self.assertTrue(wait_until(lambda: not self.live_daemon_pids(), 30 * TIME_SCALE))

    def test_a_state_directory_link_another_user_planted_is_refused(self):
        # In a sticky directory anybody may create `.viasock` as a link to a
        # directory of the victim's.
        target = os.path.join(self.tmp, "victims-dir")
        os.mkdir(target, 0o700)
        planted = os.path.join(self.shared, ".viasock")
        os.symlink(target, planted)
        os.lchown(planted, 65534, 65534)
        r = self.run_vs(["run", "cat"], b"x\n", cwd=self.shared)
        self.assertEqual(r.returncode, 125, r.stderr)
        self.assertErrorLine(r, "symbolic link made by uid 65534")
        self.assertEqual(os.listdir(target), [])
        # A link of the caller's own is the caller's choice.
        os.unlink(planted)
        os.symlink(target, planted)
        self.state_dirs.append(planted)
        r = self.run_vs(["run", "cat"], b"x\n", cwd=self.shared)
        self.assertOk(r)
        self.assertEqual(r.stdout, b"x\n")

    def test_the_callers_own_server_in_a_shared_directory_is_used(self):
        sock = os.path.join(self.shared, "own.sock")
        server = self.spawn_vs(["server", "-W", "0", "-L", sock, "tr", "a-z", "A-Z"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.assertTrue(wait_until(lambda: os.path.exists(sock), HANG_TIMEOUT))
        r = self.run_vs(["client", sock], b"hello\n")
        self.assertOk(r)
        self.assertEqual(r.stdout, b"HELLO\n")
        server.terminate()
        server.wait(timeout=30 * TIME_SCALE)


if __name__ == "__main__":
    unittest.main()
