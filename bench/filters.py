"""Filter rows of bench/run (steps 4, 5 and 8): a line-flushing Python
filter, a CPU-bound gawk filter under -j 2 beside what two cores give two
independent processes, and a filter that buffers on a pipe, served through
a terminal. FilterSteps is a part of the Bench class of bench/run."""

import glob
import os
import shlex
import shutil
import statistics
import sys
import time

from processes import alternate, daemon_pids, spawn, timed, wait_status

HERE = os.path.dirname(os.path.abspath(__file__))
PYTHON = os.path.realpath(sys.executable)


class FilterSteps:
    # -- 4. line-flushing Python filter --

    def python_filter(self):
        n = 5 if self.quick else 20
        lines = b"".join(b"line %d of the python filter input\n" % i for i in range(20000))
        path = self.write_file("lines-20k", lines)
        filt = os.path.join(HERE, "linefilter.py")
        sd = self.state_dir("pyfilter")
        env = self.env(sd)
        vs = [self.viasock, "run", "-W", "600", PYTHON, filt]
        direct = [PYTHON, filt]
        code_a, out_a = self.output_of(vs, env, path)  # starts the daemon
        code_b, out_b = self.output_of(direct, env, path)
        if code_a != 0 or out_a != out_b:
            self.problems.append("python filter: status %d, output %s" %
                                 (code_a, "identical" if out_a == out_b else "DIFFERENT"))
        # Also: the filter started with empty input (its start-up alone), and
        # the filter writing into a pipe that another process reads, as its
        # output does under viasock (a flush per line then wakes the reader).
        piped = ["/bin/sh", "-c", "%s %s < %s | cat > /dev/null" % (shlex.quote(PYTHON), shlex.quote(filt),
                                                                    shlex.quote(path))]
        ta, tb, tc, td = [], [], [], []
        for _ in range(n):
            ta.append(timed(vs, env, path))
            tb.append(timed(direct, env, path))
            tc.append(timed(direct, env, "/dev/null"))
            td.append(timed(piped, env))
        a, b, c, d = (statistics.median(t) for t in (ta, tb, tc, td))
        self.row("20 000 lines, python filter, warm (%d runs)" % n, a * 1e3, b * 1e3, a / b, "<= 1.2x",
                 a / b <= 1.2)
        self.row("  same, direct minus the filter's start-up (%.1f ms)" % (c * 1e3), a * 1e3, (b - c) * 1e3,
                 a / (b - c), "(info)", None)
        self.row("  same, direct with its output piped to cat", a * 1e3, d * 1e3, a / d, "(info)", None)
        self.stop_daemons(sd)

    # -- 8. a filter that buffers on a pipe, served through a terminal --

    def terminal_filter(self):
        n = 5 if self.quick else 20
        lines = b"".join(b"line %d of the buffering filter input\n" % i for i in range(20000))
        path = self.write_file("lines-20k-buffered", lines)
        filt = os.path.join(HERE, "bufferingfilter.py")
        sd = self.state_dir("terminal")
        env = dict(self.env(sd))
        env.pop("PYTHONUNBUFFERED", None)  # the filter must buffer, as most do
        vs = [self.viasock, "run", "-W", "600", PYTHON, filt]
        direct = [PYTHON, filt]
        code_a, out_a = self.output_of(vs, env, path)  # starts the daemon, which learns
        code_b, out_b = self.output_of(direct, env, path)
        if code_a != 0 or out_a != out_b:
            self.problems.append("buffering filter: status %d, output %s" %
                                 (code_a, "identical" if out_a == out_b else "DIFFERENT"))
        ta, tb = alternate(n, lambda: timed(vs, env, path), lambda: timed(direct, env, path))
        a, b = statistics.median(ta), statistics.median(tb)
        self.row("20 000 lines, buffering python filter via a terminal, warm (%d runs)" % n, a * 1e3, b * 1e3,
                 a / b, "(info)", None)
        self.stop_daemons(sd)

    # -- 5. -j 2 with a CPU-bound filter --

    def tool_cpu(self, daemon):
        """CPU seconds used so far by each child (tool instance) of a daemon."""
        tick = os.sysconf("SC_CLK_TCK")
        used = {}
        for stat in glob.glob("/proc/[0-9]*/stat"):
            try:
                with open(stat) as f:
                    fields = f.read().rsplit(")", 1)[1].split()
                if int(fields[1]) == daemon:
                    used[int(stat.split("/")[2])] = (int(fields[11]) + int(fields[12])) / tick
            except (OSError, ValueError, IndexError):
                pass
        return used

    def parallel_case(self, label, lines, n, rounds, target, ceiling=False):
        path = self.write_file("lines-cpu", lines)
        cut = lines.index(b"\n", len(lines) // 2) + 1
        halves = [self.write_file("lines-cpu-1", lines[:cut]), self.write_file("lines-cpu-2", lines[cut:])]
        awk = os.path.join(HERE, "cpuwork.awk")
        gawk = shutil.which("gawk", path=self.base_env["PATH"])
        tool = [gawk, "-v", "rounds=%d" % rounds, "-f", awk]
        sd = self.state_dir("parallel-%d" % len(self.rows))
        env = self.env(sd)
        vs = [self.viasock, "run", "-W", "600", "-j", "2"] + tool
        code, _ = self.output_of(vs, env, "/dev/null")  # starts the daemon
        daemons = daemon_pids(sd)
        before = self.tool_cpu(daemons[0]) if daemons else {}
        out_a = os.path.join(self.tmp, "cpu-vs")
        out_b = os.path.join(self.tmp, "cpu-direct")
        ta, tb, tc = [], [], []
        for i in range(n):
            ta.append(timed(vs, env, path, out_a if i == 0 else "/dev/null"))
            tb.append(timed(tool, env, path, out_b if i == 0 else "/dev/null"))
            if ceiling:
                # What two cores give right now: the tool twice at once, one
                # half of the input each (no viasock, no ordering).
                start = time.perf_counter()
                pids = [spawn(tool, env, half) for half in halves]
                for pid in pids:
                    wait_status(pid)
                tc.append(time.perf_counter() - start)
        if code != 0 or not self.same_files(out_a, out_b):
            self.problems.append("-j 2 cpu filter, %s: output %s" %
                                 (label, "identical" if self.same_files(out_a, out_b) else "DIFFERENT"))
        after = self.tool_cpu(daemons[0]) if daemons else {}
        spent = sorted((after[p] - before.get(p, 0) for p in after), reverse=True)
        split = "/".join("%.0f" % (100 * t / max(sum(spent), 1e-9)) for t in spent)
        a, b = statistics.median(ta), statistics.median(tb)
        self.row("-j 2, gawk, %s (%d runs): speed-up %.2fx, CPU split %s%%" % (label, n, b / a, split),
                 a * 1e3, b * 1e3, a / b, target, b / a >= 1.7 if target != "(info)" else None)
        if ceiling:
            c = statistics.median(tc)
            self.row("  two gawk at once on the halves, no viasock: speed-up %.2fx" % (b / c), c * 1e3, b * 1e3,
                     c / b, "(info)", None)
        self.stop_daemons(sd)
        for name in [path] + halves:
            os.unlink(name)
        for out in (out_a, out_b):
            os.unlink(out)

    def parallel(self):
        """The same CPU-bound work on 1 KB lines, and what two cores give two
        independent processes (scaling.cpu_stream has the acceptance row)."""
        n = 2 if self.quick else 3
        pad = b"x" * 1000
        wide = b"".join(b"%d %s\n" % (i, pad) for i in range(4000))
        self.parallel_case("4000 1 KB lines", wide, n, 3500, "(info)", ceiling=True)
