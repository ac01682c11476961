"""The README's GNU parallel --sshlogin recipe, run as written against a
local sshd on 127.0.0.1 that stands in for three cluster nodes: one daemon
serves every job, it outlives each ssh session, and the `--nonall ... stop
--all` line ends it."""

import getpass
import os
import re
import json
import shutil
import socket
import subprocess
import time

from harness import HANG_TIMEOUT, REPO, SLOWTOOL, ViasockTestCase, log, pid_alive, wait_dead, wait_until

SSHD = "/usr/sbin/sshd"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def readme_recipe():
    """The two parallel command lines of the README's cluster section."""
    with open(os.path.join(REPO, "README.md")) as f:
        text = f.read()
    block = re.search(r"\n    parallel --sshlogin .*?\n\n", text, re.S).group(0)
    commands = block.strip().replace("\\\n", " ").split("\n")
    return [re.sub(r"\s+", " ", c.strip()) for c in commands]


class ParallelSshTest(ViasockTestCase):
    def setUp(self):
        super().setUp()
        for program in (SSHD, "ssh", "ssh-keygen", "parallel"):
            if not shutil.which(program):
                self.skipTest("%s is missing (apt-get install openssh-server parallel)" % program)
        if os.geteuid() != 0:
            self.skipTest("sshd needs root here (privilege separation in /run/sshd)")
        os.makedirs("/run/sshd", mode=0o755, exist_ok=True)
        self.ssh = os.path.join(self.tmp, "ssh")
        os.mkdir(self.ssh, 0o700)
        for key in ("host_key", "id"):
            r = subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f",
                                os.path.join(self.ssh, key)], capture_output=True, timeout=20)
            self.assertEqual(r.returncode, 0, r.stderr)
        shutil.copy(os.path.join(self.ssh, "id.pub"), os.path.join(self.ssh, "authorized_keys"))
        self.bin_dir = os.path.join(self.tmp, "bin")
        os.mkdir(self.bin_dir)
        os.symlink(self.bin, os.path.join(self.bin_dir, "viasock"))
        self.home = os.path.join(self.tmp, "home")
        os.makedirs(os.path.join(self.home, ".parallel"))
        open(os.path.join(self.home, ".parallel", "will-cite"), "w").close()
        self.port = free_port()
        self.start_sshd()
        self.write_client_config()

    def start_sshd(self):
        config = os.path.join(self.ssh, "sshd_config")
        with open(config, "w") as f:
            f.write("\n".join([
                "Port %d" % self.port,
                "ListenAddress 127.0.0.1",
                "HostKey %s/host_key" % self.ssh,
                "PidFile %s/sshd.pid" % self.ssh,
                "AuthorizedKeysFile %s/authorized_keys" % self.ssh,
                "StrictModes no",
                "UsePAM no",
                "PasswordAuthentication no",
                "KbdInteractiveAuthentication no",
                "PermitRootLogin prohibit-password",
                "MaxStartups 100",
                "MaxSessions 100",
                # The "nodes" find this viasock, register their daemons in
                # this test's own registry, and skip the login shell's rc
                # files (an empty home).
                "SetEnv PATH=%s:/usr/local/bin:/usr/bin:/bin XDG_RUNTIME_DIR=%s HOME=%s"
                % (self.bin_dir, self.runtime_dir, self.home),
                "LogLevel ERROR",
                ""]))
        self.sshd = subprocess.Popen([SSHD, "-D", "-e", "-f", config], stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE)
        self.children.append(self.sshd)

        def listening():
            if self.sshd.poll() is not None:
                return True
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return True
            except OSError:
                return False
        wait_until(listening, timeout=10)
        if self.sshd.poll() is not None:
            self.skipTest("sshd cannot run here: %r" % self.sshd.stderr.read()[-500:])

    def write_client_config(self):
        self.ssh_config = os.path.join(self.ssh, "config")
        with open(self.ssh_config, "w") as f:
            f.write("\n".join([
                "Host node1 node2 node3",
                "  HostName 127.0.0.1",
                "  Port %d" % self.port,
                "  User %s" % getpass.getuser(),
                "  IdentityFile %s/id" % self.ssh,
                "  IdentitiesOnly yes",
                "  BatchMode yes",
                "  StrictHostKeyChecking no",
                "  UserKnownHostsFile /dev/null",
                "  LogLevel ERROR",
                ""]))
        self.parallel_env = {"PARALLEL_SSH": "ssh -F %s" % self.ssh_config, "HOME": self.home}

    def make_project(self, documents):
        with open(os.path.join(self.tmp, "model.bin"), "wb") as f:
            f.write(b"weights\n")
        parse = os.path.join(self.tmp, "parse")
        with open(parse, "w") as f:
            f.write('#!/bin/sh\n'
                    '# A slow-starting parser: ./parse -m MODEL\n'
                    '[ "$1" = -m ] && [ -r "$2" ] || { echo "usage: parse -m MODEL" >&2; exit 2; }\n'
                    'SLOWTOOL_STARTS="$PWD/starts" exec python3 %s --delay 0.5\n' % SLOWTOOL)
        os.chmod(parse, 0o755)
        os.mkdir(os.path.join(self.tmp, "docs"))
        expected = {}
        for i in range(documents):
            text = "".join("document %d line %d\n" % (i, k) for k in range(20))
            with open(os.path.join(self.tmp, "docs", "%02d.txt" % i), "w") as f:
                f.write(text)
            expected["docs/%02d.parse" % i] = text.upper()
        self.starts_files.append(os.path.join(self.tmp, "starts"))
        return expected

    def shell(self, command):
        try:
            return subprocess.run(["bash", "-c", command], capture_output=True, cwd=self.tmp,
                                  env=self._env(self.parallel_env), timeout=120)
        except subprocess.TimeoutExpired:
            self.fail("%r did not finish within 120 s" % command)

    def test_readme_recipe(self):
        run_line, stop_line = readme_recipe()
        log("recipe: %s | %s" % (run_line, stop_line))
        self.assertIn("--sshlogin node1,node2,node3", run_line)
        self.assertIn("--nonall", stop_line)
        expected = self.make_project(documents=12)

        began = time.monotonic()
        r = self.shell(run_line)
        log("the recipe took %.1f s" % (time.monotonic() - began))
        self.assertEqual(r.returncode, 0, "the recipe failed: %r" % r.stderr[-2000:])
        for path, text in expected.items():
            with open(os.path.join(self.tmp, path)) as f:
                self.assertEqual(f.read(), text, path)
        # One daemon learned the tool: its two candidates are the only starts
        # (one with a pipe, one with a terminal as stdout).
        self.assertLessEqual(len(self.started_pids(os.path.join(self.tmp, "starts"))), 2,
                             "the tool was started more than once per candidate")
        (meta,) = self.run_jsons().values()
        daemon = meta["pid"]
        # Every ssh session of the recipe has ended; the daemon has not.
        time.sleep(0.5)
        self.assertTrue(pid_alive(daemon), "the daemon did not outlive the ssh sessions")
        r = self.run_vs(["list", "--json"])
        (entry,) = json.loads(r.stdout)
        self.assertEqual(entry["calls"], len(expected), "one daemon served every job")

        r = self.shell(stop_line)
        self.assertEqual(r.returncode, 0, "the stop line failed: %r" % r.stderr[-2000:])
        self.assertIn(b"stopped " + meta["id"][:12].encode(), r.stdout)
        self.assertEqual(wait_dead([daemon], timeout=HANG_TIMEOUT), [], "the stop line did not end the daemon")
