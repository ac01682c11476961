"""The command line as a user meets it: help, usage lines, "did you mean",
the version, error style, the original viasock's option names, and the bash
completion."""

import json
import os
import re
import shutil
import subprocess

from harness import REPO, ViasockTestCase


class HelpTest(ViasockTestCase):
    def test_help_and_usage_lines(self):
        for args in (["help", "run"], ["run", "--help"]):
            r = self.run_vs(args)
            self.assertOk(r, " ".join(args))
            self.assertIn(b"usage: viasock run [OPTIONS] TOOL [ARGS...]", r.stdout)
            self.assertIn(b"--idle-timeout", r.stdout)
        r = self.run_vs(["help"])
        self.assertOk(r)
        for command in (b"run", b"start", b"restart", b"logs", b"list"):
            self.assertIn(b"\n  " + command + b" ", r.stdout)
        r = self.run_vs(["help", "start"])
        self.assertIn(b"usage: viasock start [OPTIONS] TOOL [ARGS...]", r.stdout)

    def test_version(self):
        r = self.run_vs(["--version"])
        self.assertOk(r)
        self.assertRegex(r.stdout.decode(), r"^viasock \d+\.\d+\.\d+\n$")

    def test_did_you_mean(self):
        r = self.run_vs(["rnu", "cat"])
        self.assertEqual(r.returncode, 2)
        self.assertErrorLine(r, "unknown command 'rnu'", "did you mean 'run'?", "see 'viasock --help'")
        r = self.run_vs(["run", "--idle-timout", "5", "cat"])
        self.assertEqual(r.returncode, 2)
        self.assertErrorLine(r, "'--idle-timout'", "did you mean '--idle-timeout'?", "see 'viasock run --help'")
        r = self.run_vs(["help", "stpo"])
        self.assertErrorLine(r, "did you mean 'stop'?")

    def test_errors_point_at_the_commands_help(self):
        cases = [(["run", "-W"], "viasock run --help"),
                 (["run", "-W", "soon", "cat"], "viasock run --help"),
                 (["run"], "viasock run --help"),
                 (["list", "extra"], "viasock list --help"),
                 (["stop"], "viasock stop --help"),
                 (["logs"], "viasock logs --help"),
                 (["start", "-j", "0", "cat"], "viasock start --help")]
        for args, help_line in cases:
            with self.subTest(args=args):
                r = self.run_vs(args)
                self.assertEqual(r.returncode, 2, r.stderr)
                self.assertErrorLine(r, "see '%s'" % help_line)
                line = r.stderr.decode().split("\n")[0][len("viasock: error: "):]
                self.assertTrue(line[0].islower() or line[0] in "-'", "not lower-case: %r" % line)
                self.assertNotIn("Could not", line)

    def test_original_option_names(self):
        r = self.run_vs(["run", "--server-timeout", "7", "--process-timeout", "9",
                         "--output-prelude", "0", "cat"], b"x\n")
        self.assertOk(r)
        self.assertEqual(r.stdout, b"x\n")
        # Operational options travel with the call: the daemon keeps the
        # idle timeout it was asked for.
        r = self.run_vs(["list", "--json"])
        (entry,) = json.loads(r.stdout.decode())
        self.assertEqual(entry.get("idle_timeout", 7), 7)


class CompletionTest(ViasockTestCase):
    def complete(self, *words):
        script = os.path.join(REPO, "completion", "viasock.bash")
        line = " ".join(words)
        program = ('source %s; COMP_WORDS=(%s); COMP_CWORD=%d; _viasock; printf "%%s\\n" "${COMPREPLY[@]}"'
                   % (script, " ".join("'%s'" % w for w in words), len(words) - 1))
        env = self._env({"PATH": os.path.dirname(self.bin) + os.pathsep + self.env.get("PATH", "")})
        r = subprocess.run(["bash", "-c", program], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           cwd=self.tmp, env=env, timeout=20)
        self.assertEqual(r.returncode, 0, r.stderr)
        return r.stdout.decode().split()

    def test_bash_completion(self):
        if not shutil.which("bash"):
            self.skipTest("bash is missing")
        self.assertIn("run", self.complete("viasock", "r"))
        self.assertEqual(self.complete("viasock", "run", "--idle-t"), ["--idle-timeout"])
        self.assertEqual(self.complete("viasock", "help", "pr"), ["prune"])
        self.assertOk(self.run_vs(["run", "cat"], b"x\n"))
        (meta,) = self.run_jsons().values()
        self.assertEqual(self.complete("viasock", "stop", ""), [meta["id"][:12]])
