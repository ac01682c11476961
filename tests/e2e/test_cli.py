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
                 (["start", "-j", "0", "cat"], "viasock start --help"),
                 (["run", "--max-record", "12Q", "cat"], "viasock run --help")]
        for args, help_line in cases:
            with self.subTest(args=args):
                r = self.run_vs(args)
                self.assertEqual(r.returncode, 2, r.stderr)
                self.assertErrorLine(r, "see '%s'" % help_line)
                line = r.stderr.decode().split("\n")[0][len("viasock: error: "):]
                self.assertTrue(line[0].islower() or line[0] in "-'", "not lower-case: %r" % line)
                self.assertNotIn("Could not", line)
                self.assertNotIn("Allowed values", line)

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


HELP_INTERNALS = (b"INT:INT", b"UINT", b"TEXT", b"FLOAT", b"[b, kb", b"VALUE", b"REQUIRED")


class HelpWordsTest(ViasockTestCase):
    def test_help_shows_words_a_user_reads(self):
        # Placeholders are words (N, SIZE, SECONDS), not the parser's types
        # and validators; a default is said once, in the description.
        commands = self.commands()
        self.assertIn("probe", commands)
        for command in commands:
            for args in (["help", command], [command, "--help"]):
                r = self.run_vs(args)
                self.assertOk(r, " ".join(args))
                for internal in HELP_INTERNALS:
                    self.assertNotIn(internal, r.stdout, " ".join(args))
                self.assertNotRegex(r.stdout.decode(), r"[A-Z]=\d", " ".join(args))
        r = self.run_vs(["run", "--help"])
        for shown in (b"--max-record SIZE", b"--retry N", b"-W,--idle-timeout,--server-timeout SECONDS",
                      b"default 60", b"-j,--instances N|MIN:MAX"):
            self.assertIn(shown, r.stdout)

    def commands(self):
        r = self.run_vs(["help"])
        section = r.stdout.decode().split("Commands:\n", 1)[1]
        return [line.split()[0] for line in section.splitlines() if line.startswith("  ")]


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

    def test_completion_knows_every_command_and_option(self):
        if not shutil.which("bash"):
            self.skipTest("bash is missing")
        commands = HelpWordsTest.commands(self)
        self.assertEqual(sorted(self.complete("viasock", "")), sorted(commands + ["--help", "--version"]))
        with open(os.path.join(REPO, "completion", "_viasock")) as f:
            zsh = f.read()
        for command in commands:
            self.assertIn("'%s:" % command, zsh, "zsh completion lacks " + command)
            offered = set(self.complete("viasock", command, "-"))
            for names in self.options_of(command):
                # One of an option's names (the others are aliases).
                self.assertTrue(offered & set(names), "bash completion of '%s' lacks %s" % (command, names))
                if command not in ("client", "help") and names != ["-h", "--help"]:
                    self.assertTrue(any(n in zsh for n in names if n.startswith("--")),
                                    "zsh completion lacks %s of %s" % (names, command))

    def options_of(self, command):
        """The names of each option `viasock COMMAND --help` lists."""
        r = self.run_vs([command, "--help"])
        section = r.stdout.decode().split("Options:\n", 1)[1].split("\n\n", 1)[0]
        return [line.split()[0].split(",") for line in section.splitlines() if line.startswith("  -")]

    def test_bash_completion(self):
        if not shutil.which("bash"):
            self.skipTest("bash is missing")
        self.assertIn("run", self.complete("viasock", "r"))
        self.assertEqual(self.complete("viasock", "run", "--idle-t"), ["--idle-timeout"])
        self.assertEqual(self.complete("viasock", "p"), ["probe", "prune"])
        self.assertEqual(self.complete("viasock", "help", "pr"), ["probe", "prune"])
        self.assertOk(self.run_vs(["run", "cat"], b"x\n"))
        (meta,) = self.run_jsons().values()
        self.assertEqual(self.complete("viasock", "stop", ""), [meta["id"][:12]])
