"""The differential test of viasock's promise: a call prints byte for byte
what the tool prints when run directly, with its exit status, or fails
loudly (a non-zero status and a "viasock: ..." line on stderr); it never
prints other bytes with status 0, and never another caller's bytes.

A fuzzer with a fixed seed crosses:
  - generated tools (difftools.py): 0..n lines per record, look-ahead, no
    answer to some records, late answers, output after the input closes, a
    banner at start, state between records, buffering on a pipe, colour on
    a terminal only, partial lines, output at exit, a non-zero exit
    mid-stream, stderr at start, per record and at exit;
  - option sets: none, --pipe, --pty, -L, -t '^$', -T '^\\.$', -0, -P N,
    -j 2, --retry 1;
  - inputs: empty, one record, many, no final newline, a 1 MiB record;
  - callers: one cold (fresh state directory), one warm (the next call),
    three at once with different inputs, and one with 'viasock restart'
    midway.
Every call is compared with a direct run of the tool (same cwd, environment
and stdin). A group of cases shares one tool, one option set and one state
directory; direct runs are shared by the groups of a tool.

VIASOCK_DIFF_CASES (default 300) sets how many calls are checked and
VIASOCK_DIFF_SEED (default 21) the seed; 'scripts/test --long' runs
thousands with a random seed, printed so that a failure can be replayed.
VIASOCK_DIFF_GROUPS=3,17 replays only those groups of the seed.
Calls that break the promise in a way listed in KNOWN_BROKEN (diffcases.py)
are counted but do not fail the test, unless VIASOCK_DIFF_STRICT=1.
"""

import concurrent.futures
import os
import random
import signal
import subprocess
import sys
import threading
import time
import unittest

import difftools
from diffcases import (CALL_TIMEOUT, CASES, KNOWN_BROKEN, ONLY, PLANTED, SEED, SHOW, STRICT,
                       WORKERS, Call, Group, judge)
from harness import (DEFAULT_TIMEOUT, ViasockTestCase, first_difference,
                     log, pid_alive, wait_dead)


class DifferentialTest(ViasockTestCase):

    def setUp(self):
        super().setUp()
        self.direct_cache = {}
        self.lock = threading.Lock()

    # ----------------------------------------------------------- running

    def tool_command(self, group):
        """The tool's script written into the test's directory, once per
        tool; returns its command."""
        path = os.path.join(self.tmp, "tool%d.py" % group.tool_number)
        if not os.path.exists(path):
            self.write_file(os.path.basename(path), difftools.tool_source(group.tool))
            os.chmod(path, 0o755)
        return [path]

    def direct_run(self, group, data):
        """The tool run directly on data (cached per tool and input)."""
        key = (group.tool_number, data)
        with self.lock:
            if key in self.direct_cache:
                return self.direct_cache[key]
        result = self.direct(self.tool_command(group), data, timeout=CALL_TIMEOUT)
        with self.lock:
            self.direct_cache[key] = result
        return result

    def start_call(self, binary, group, call):
        command = ([binary, "run", "--state-dir", group.state_dir] + group.options
                   + self.tool_command(group))
        # Unbuffered: a write that met a closed pipe leaves nothing behind
        # for communicate() to fail on.
        p = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, cwd=self.tmp, env=self._env(None),
                             bufsize=0)
        self.children.append(p)
        return p

    def finish_call(self, p, call, rest=None):
        """Feeds the rest of the input, waits (bounded) for p and records its
        result in call; a call that hangs is killed (by its pid)."""
        try:
            call.stdout, call.stderr = p.communicate(rest, timeout=CALL_TIMEOUT)
        except subprocess.TimeoutExpired:
            call.timed_out = True
            # What the daemon did meanwhile, for the report.
            call.log = self.log_tails(40, p.args[p.args.index("--state-dir") + 1])
            p.kill()
            call.stdout, call.stderr = p.communicate()
        call.status = p.returncode

    def new_call(self, group, kind=None, allow_big=True):
        with self.lock:
            group.callers += 1
            caller = group.callers
        kind = kind or group.draw_kind(allow_big)
        # The same for every group of the tool, so that they share direct runs.
        rng = random.Random("%d/%s/%d" % (group.tool_number, kind, caller))
        return Call(caller, kind, difftools.make_input(rng, kind, caller, group.framing))

    def run_scenario(self, binary, group, scenario):
        """Makes the calls of one scenario; returns them."""
        if scenario in ("cold", "warm"):
            call = self.new_call(group)
            self.finish_call(self.start_call(binary, group, call), call, call.data)
            return [call]
        if scenario == "three":
            calls = [self.new_call(group, allow_big=False) for _ in range(3)]
            procs = [self.start_call(binary, group, c) for c in calls]
            # Each caller's input goes in from a thread of its own, all at once.
            threads = [threading.Thread(target=self.finish_call, args=(p, c, c.data))
                       for p, c in zip(procs, calls)]
            for t in threads:
                t.start()
            for t in threads:
                t.join(CALL_TIMEOUT + 10)
            return calls
        # restart: half of the records, 'viasock restart', the other half.
        call = self.new_call(group, kind="many")
        p = self.start_call(binary, group, call)
        half = len(call.data) // 2
        half = call.data.rfind(group.tool["sep"] if group.framing != "para" else b"\n\n",
                               0, half) + 1 or half
        try:
            p.stdin.write(call.data[:half])
        except BrokenPipeError:
            pass
        time.sleep(0.1)
        # Not waited for before the call ends: restart may wait for it.
        restart = subprocess.Popen([binary, "restart", "--all", "--state-dir", group.state_dir],
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                   cwd=self.tmp, env=self._env(None))
        self.children.append(restart)
        time.sleep(0.1)
        self.finish_call(p, call, call.data[half:])
        try:
            restart.communicate(timeout=CALL_TIMEOUT)
        except subprocess.TimeoutExpired:
            restart.kill()
            restart.communicate()
        return [call]

    def stop_daemons(self, state_dir):
        """Ends the daemons of a finished group by pid, as the teardown would,
        so that groups do not pile up."""
        pids = [p for p in self.daemon_pids(state_dir) if pid_alive(p)]
        for pid in pids:
            try:
                os.kill(pid, signal.SIGTERM)
            except OSError:
                pass
        for pid in wait_dead(pids, timeout=3):
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass

    def run_group(self, binary, group):
        """Runs the group's scenarios; returns [(scenario, call, direct, why)]
        for the calls that broke the promise."""
        group.state_dir = os.path.join(self.tmp, "state%d" % group.number)
        with self.lock:
            self.state_dirs.append(group.state_dir)
        try:
            for scenario in group.scenarios:
                group.calls += [(scenario, c) for c in self.run_scenario(binary, group, scenario)]
        finally:
            self.stop_daemons(group.state_dir)
        failures = []
        for scenario, call in group.calls:
            foreign = [difftools.caller_tag(c.caller) for _, c in group.calls
                       if c.caller != call.caller]
            direct = self.direct_run(group, call.data)
            why = judge(direct, call, foreign)
            if why:
                failures.append((scenario, call, direct, why))
        return failures

    # ----------------------------------------------------------- cases

    def make_groups(self, seed, cases):
        """Groups with about `cases` calls in all; a tool serves two or three
        groups (its direct runs are shared)."""
        rng = random.Random(seed)
        groups, calls, tools = [], 0, 0
        while calls < cases:
            group = Group(len(groups) + 1, rng)
            # The next groups reuse this tool when their option set allows.
            if groups and rng.random() < 0.5 and groups[-1].framing == group.framing \
                    and groups[-1].tool["sep"] == group.tool["sep"] \
                    and groups[-1].tool["prelude"] == group.tool["prelude"] \
                    and not (group.option_name == "pty" and groups[-1].tool["colour"]):
                group.tool, group.tool_number = groups[-1].tool, groups[-1].tool_number
            else:
                tools += 1
                group.tool_number = tools
            groups.append(group)
            calls += len(group.scenarios) + 2 * ("three" in group.scenarios)
        return groups

    def run_groups(self, groups, binary=None):
        """Runs the groups side by side; returns the failures as
        [(group, scenario, call, direct, why)]."""
        binary = binary or self.bin
        failures = []
        with concurrent.futures.ThreadPoolExecutor(WORKERS) as pool:
            futures = {pool.submit(self.run_group, binary, g): g for g in groups}
            for future in concurrent.futures.as_completed(futures):
                group = futures[future]
                failures += [(group,) + f for f in future.result()]
        failures.sort(key=lambda f: (f[0].number, f[2].caller))
        return failures

    def known_broken(self, group, scenario, call):
        for predicate, why in KNOWN_BROKEN:
            if predicate(group, scenario, call):
                return why
        return None

    def reproduction(self, group, scenario, call, direct, why):
        """How to see a failure again by hand."""
        i = first_difference(call.stdout, direct.stdout)
        return "\n".join([
            "=== %s, %s caller %d, input %s: %s" % (group.describe(), scenario,
                                                  call.caller, call.kind, why),
            "tool%d.py:" % group.tool_number,
            difftools.tool_source(group.tool).rstrip(),
            "command: viasock run %s ./tool%d.py   (%s)" % (
                " ".join("'%s'" % o for o in group.options), group.tool_number,
                "calls of this group before it: %s" % ", ".join(
                    "%s(%s)" % (s, c.kind) for s, c in group.calls[:group.calls.index((scenario, call))])
                or "a fresh state directory"),
            "input: " + difftools.summarize(call.data),
            "direct: status %d, stdout %s" % (direct.returncode, difftools.summarize(direct.stdout)),
            "viasock: status %s, stdout %s" % (call.status, difftools.summarize(call.stdout)),
            "first difference at byte %d: viasock %r, direct %r" % (
                i, call.stdout[max(0, i - 30):i + 50], direct.stdout[max(0, i - 30):i + 50]),
            "viasock stderr: %r" % call.stderr[-400:],
        ] + (["daemon log:\n" + call.log] if call.log else []))

    def check(self, seed, cases):
        groups = [g for g in self.make_groups(seed, cases) if not ONLY or g.number in ONLY]
        calls = sum(len(g.scenarios) + 2 * ("three" in g.scenarios) for g in groups)
        log("differential: seed %d, %d groups, %d calls" % (seed, len(groups), calls))
        started = time.monotonic()
        failures = self.run_groups(groups)
        known = [f for f in failures if not STRICT and self.known_broken(f[0], f[1], f[2])]
        new = [f for f in failures if f not in known]
        log("differential: %d calls in %.1f s; %d broke the promise (%d known)"
            % (calls, time.monotonic() - started, len(failures), len(known)))
        counts = {}
        for f in failures:
            key = (f[0].option_name, f[1], f[4].split(" (")[0])
            counts[key] = counts.get(key, 0) + 1
        for key, n in sorted(counts.items()):
            log("  %3d  options %-5s %-7s %s" % ((n,) + key))
        for predicate, why in KNOWN_BROKEN:
            n = sum(1 for f in known if self.known_broken(f[0], f[1], f[2]) == why)
            log("  known: %3d  %s" % (n, why))
        if new:
            self.fail("%d of %d calls broke the promise (seed %d; replay with "
                      "VIASOCK_DIFF_SEED=%d VIASOCK_DIFF_CASES=%d):\n%s"
                      % (len(new), calls, seed, seed, cases,
                         "\n".join(self.reproduction(*f) for f in new[:SHOW])))

    def planted_groups(self, count):
        """Groups of a well-behaved tool (one flushed line per record), no
        option, inputs of at least one record: the real binary passes them."""
        rng = random.Random(SEED)
        groups = []
        for number in range(1, count + 1):
            group = Group(number, rng)
            group.option_name, group.options = "none", []
            group.framing = "line"
            group.tool = difftools.random_tool(random.Random(0))
            group.tool.update(lines="one", flush="always", prelude=0, counter=False,
                              colour=False, partial=False, late=False, terminator=False,
                              at_eof=None, exit_at=None, stderr=[])
            group.tool_number = 1
            group.scenarios = ["cold", "warm", "three"]
            group.kinds = ["one", "many"]
            groups.append(group)
        return groups

    def test_the_oracle_fails_on_a_planted_defect(self):
        """The checker flags a viasock that drops a call's last line, and one
        that adds a line of another caller's input: the oracle can fail."""
        for defect, expected in (("drop-last-line", "other bytes with status 0"),
                                 ("foreign-bytes", "another caller's bytes")):
            inputs = os.path.join(self.tmp, "inputs-" + defect)
            os.mkdir(inputs)
            wrapper = self.write_file("planted-" + defect, PLANTED % {
                "python": sys.executable, "real": self.bin, "defect": defect,
                "inputs": inputs})
            os.chmod(wrapper, 0o755)
            groups = self.planted_groups(2)
            failures = self.run_groups(groups, binary=wrapper)
            flagged = {(f[0].number, f[2].caller): f[4] for f in failures}
            for group in groups:
                for scenario, call in group.calls:
                    # The first caller has no earlier caller's input to show.
                    if defect == "foreign-bytes" and call.caller == 1:
                        continue
                    why = flagged.get((group.number, call.caller))
                    self.assertTrue(why and why.startswith(expected),
                                    "%s: %s caller %d of group %d not flagged as %r "
                                    "(flagged: %r; status %s, stdout %s)"
                                    % (defect, scenario, call.caller, group.number,
                                       expected, why, call.status,
                                       difftools.summarize(call.stdout)))
            # The checker's verdict on the undisturbed binary is the other test's.
            for f in failures:
                self.assertIn(f[4].split(" (")[0], (expected, "another caller's bytes",
                                                      "other bytes with status 0"))

    def test_direct_bytes_or_loud_failure(self):
        """Generated tools x option sets x inputs x callers (see the module's
        docstring): every call prints the direct run's bytes and status, or
        fails loudly, and never another caller's bytes."""
        self.check(SEED, CASES)


if __name__ == "__main__":
    unittest.main()
