"""Scaling rows of bench/run: the pool (-j) on a small document, a CPU-bound
stream and a big stream, many short calls at once, and the two SVG plots
(speed-up against -j, call latency against concurrent callers).

Every function takes the Bench object of bench/run and adds rows to it."""

import os
import shlex
import shutil
import statistics
import subprocess
import time

HERE = os.path.dirname(os.path.abspath(__file__))


def median_times(bench, argv, env, stdin, n):
    return statistics.median(bench.timed(argv, env, stdin) for _ in range(n))


def speedups(bench, label, tool, path, js, n, check_with=None):
    """Warm daemons with -j J for each J; returns {J: median seconds}. The
    output of each -j is checked against `check_with` (a file) or against
    the tool run directly."""
    times = {}
    expected = check_with
    if expected is None:
        expected = os.path.join(bench.tmp, "expected-%s" % label)
        pid = bench.spawn(tool, bench.base_env, path, expected)
        bench.wait_status(pid)
    for j in js:
        sd = bench.state_dir("scale-%s-%d" % (label, j))
        env = bench.env(sd)
        vs = [bench.viasock, "run", "-W", "600", "-j", str(j)] + tool
        out = os.path.join(bench.tmp, "scale-out")
        code = bench.wait_status(bench.spawn(vs, env, path, out))  # starts the daemon, warms its measures
        if code != 0 or not bench.same_files(out, expected):
            bench.problems.append("%s -j %d: status %d, output %s" % (
                label, j, code, "identical" if bench.same_files(out, expected) else "DIFFERENT"))
        os.unlink(out)
        times[j] = median_times(bench, vs, env, path, n)
        bench.stop_daemons(sd)
    if check_with is None:
        os.unlink(expected)
    return times


def small_document(bench):
    """40 records at 25 ms each: -j 4 against -j 1."""
    n = 3 if bench.quick else 5
    doc = bench.write_file("doc-40", b"".join(b"sentence %d of a small document\n" % i for i in range(40)))
    tool = [bench.python, os.path.join(HERE, "slowstart.py"), "0.2", "0.025"]
    times = speedups(bench, "doc40", tool, doc, [1, 2, 3, 4], n)
    bench.scaling["small document (40 x 25 ms)"] = {j: times[1] / t for j, t in times.items()}
    bench.row("40 records at 25 ms, -j 4 vs -j 1 (%d runs): speed-up %.2fx" % (n, times[1] / times[4]),
              times[4] * 1e3, times[1] * 1e3, times[4] / times[1], "speed-up >= 3.3x", times[1] / times[4] >= 3.3)


def cpu_stream(bench):
    """4,000 short CPU-bound records (about 1.2 s of gawk): -j 2 against the
    tool alone, and the speed-up for each -j."""
    n = 2 if bench.quick else 5
    lines = b"".join(b"%d words of text for the cpu-bound filter\n" % i for i in range(4000))
    path = bench.write_file("cpu-4000", lines)
    gawk = shutil.which("gawk", path=bench.base_env["PATH"])
    tool = [gawk, "-v", "rounds=3500", "-f", os.path.join(HERE, "cpuwork.awk")]
    alone = median_times(bench, tool, bench.base_env, path, n)
    times = speedups(bench, "cpu4000", tool, path, [1, 2, 3, 4], n)
    bench.scaling["CPU-bound stream (4,000 gawk records)"] = {j: alone / t for j, t in times.items()}
    # The acceptance row takes -j 2 and the tool alone in turns: this
    # machine's speed drifts by up to half for seconds at a time, and two
    # medians taken seconds apart would compare two machines.
    sd = bench.state_dir("cpu4000-row")
    env = bench.env(sd)
    vs = [bench.viasock, "run", "-W", "600", "-j", "2"] + tool
    bench.timed(vs, env, path)  # starts the daemon, warms its measures
    ta, tb = bench.alternate(n, lambda: bench.timed(vs, env, path), lambda: bench.timed(tool, bench.base_env, path))
    bench.stop_daemons(sd)
    a, b = statistics.median(ta), statistics.median(tb)
    bench.row("4,000 CPU-bound gawk records, -j 2 vs the tool alone (%d runs): speed-up %.2fx" % (n, b / a),
              a * 1e3, b * 1e3, a / b, "speed-up >= 1.8x", b / a >= 1.8)
    os.unlink(path)


def big_stream(bench, path):
    """100 MB of lines through cat: -j 2 against -j 1 (the file exists)."""
    n = 3 if bench.quick else 5
    times = speedups(bench, "cat100", ["cat"], path, [1, 2, 3, 4], n, check_with=path)
    bench.scaling["big stream (100 MB through cat)"] = {j: times[1] / t for j, t in times.items()}
    bench.row("100 MB through cat, -j 2 vs -j 1 (%d runs)" % n, times[2] * 1e3, times[1] * 1e3,
              times[2] / times[1], "<= 1.2x", times[2] / times[1] <= 1.2)


def many_calls_argv(bench, calls, parallel, command):
    script = "seq %d | xargs -P %d -I{} sh -c %s" % (calls, parallel, shlex.quote(command))
    return ["/bin/sh", "-c", script]


def many_calls(bench):
    """400 calls, 8 at a time (as make -j 8 makes them), against the same
    with cat; then call latency against the number of concurrent callers."""
    n = 1 if bench.quick else 3
    sd = bench.state_dir("calls")
    env = bench.env(sd)
    vs_call = "echo x{} | viasock run -W 600 cat"
    direct_call = "echo x{} | cat"
    # once, outputs kept: every call answered its own line
    code, data = bench.output_of(many_calls_argv(bench, 400, 8, vs_call), env, "/dev/null")
    want = sorted(b"x%d" % i for i in range(1, 401))
    if code != 0 or sorted(data.split()) != want:
        bench.problems.append("400 calls: status %d, %d of 400 answers right" %
                              (code, len(set(data.split()) & set(want))))
    vs = many_calls_argv(bench, 400, 8, vs_call + " > /dev/null")
    direct = many_calls_argv(bench, 400, 8, direct_call + " > /dev/null")
    ta, tb = bench.alternate(n, lambda: bench.timed(vs, env), lambda: bench.timed(direct, env))
    a, b = statistics.median(ta), statistics.median(tb)
    bench.row("400 calls, 8 at a time (%d runs)" % n, a * 1e3, b * 1e3, a / b, "<= 1.5x", a / b <= 1.5)
    # latency: the mean time one call takes with C callers running at once
    for callers in (1, 2, 4, 8, 16):
        calls = (20 if not bench.quick else 8) * callers
        vs = many_calls_argv(bench, calls, callers, vs_call + " > /dev/null")
        direct = many_calls_argv(bench, calls, callers, direct_call + " > /dev/null")
        ta, tb = bench.alternate(1, lambda: bench.timed(vs, env), lambda: bench.timed(direct, env))
        a, b = statistics.median(ta), statistics.median(tb)
        bench.latency[callers] = (a * callers / calls * 1e3, b * callers / calls * 1e3)
    bench.stop_daemons(sd)


SCALING_PLOT = """
set terminal svg size 720,440 dynamic font 'sans,12'
set output '%(out)s'
set title 'viasock -j: speed-up against -j (2 cores)'
set xlabel 'instances (-j)'
set ylabel 'speed-up'
set xtics 1
set key top left
set grid
plot %(curves)s
"""

LATENCY_PLOT = """
set terminal svg size 720,440 dynamic font 'sans,12'
set output '%(out)s'
set title 'Time per call against concurrent callers (echo x | ... cat)'
set xlabel 'concurrent callers'
set ylabel 'ms per call (wall time x callers / calls)'
set logscale x 2
set key top left
set grid
plot '%(data)s' using 1:2 with linespoints title 'viasock run cat', \\
     '%(data)s' using 1:3 with linespoints title 'cat'
"""


def plots(bench, out_dir):
    """Writes scaling.svg and latency.svg (with gnuplot) into out_dir;
    returns the files written."""
    gnuplot = shutil.which("gnuplot")
    if not gnuplot:
        bench.notes.append("no gnuplot: plots not written (apt-get install gnuplot-nox)")
        return []
    written = []
    for name, points in bench.scaling.items():
        print("speed-up, %s: %s" % (name, ", ".join("-j %d %.2fx" % (j, points[j]) for j in sorted(points))))
    for callers in sorted(bench.latency):
        print("%2d callers: %.1f ms per call through viasock, %.1f ms with cat" % (callers, *bench.latency[callers]))
    if bench.scaling:
        curves = []
        for i, (name, points) in enumerate(bench.scaling.items()):
            data = os.path.join(bench.tmp, "scaling-%d.dat" % i)
            with open(data, "w") as f:
                for j in sorted(points):
                    f.write("%d %.4f\n" % (j, points[j]))
            curves.append("'%s' using 1:2 with linespoints title '%s'" % (data, name))
        curves.append("x with lines dashtype 2 title 'ideal'")
        out = os.path.join(out_dir, "scaling.svg")
        script = SCALING_PLOT % {"out": out, "curves": ", ".join(curves)}
        if subprocess.run([gnuplot], input=script.encode()).returncode == 0:
            written.append(out)
    if bench.latency:
        data = os.path.join(bench.tmp, "latency.dat")
        with open(data, "w") as f:
            for callers in sorted(bench.latency):
                f.write("%d %.3f %.3f\n" % (callers, *bench.latency[callers]))
        out = os.path.join(out_dir, "latency.svg")
        script = LATENCY_PLOT % {"out": out, "data": data}
        if subprocess.run([gnuplot], input=script.encode()).returncode == 0:
            written.append(out)
    return written


def status_kib(pid, field):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(field):
                return int(line.split()[1])
    return 0


def big_record(bench):
    """One 200 MB line through cat: the daemon's peak resident memory
    against the record's size, and what stays resident 5 s later; first
    through a daemon that has learned its tool (from one short line), then
    as the first record of a new daemon, which learns on it with two
    candidates (a pipe and a terminal) and holds both their answers."""
    size = 200 << 20
    path = os.path.join(bench.tmp, "line-200MB")
    with open(path, "wb") as f:
        chunk = b"y" * (1 << 20)
        for _ in range(size >> 20):
            f.write(chunk)
        f.write(b"\n")
    record = size / (1 << 20)
    short = os.path.join(bench.tmp, "line-short")
    with open(short, "wb") as f:
        f.write(b"short\n")
    for learned in (True, False):
        peak, after = big_record_once(bench, path, short if learned else "/dev/null")
        if peak is None:
            continue
        if learned:
            bench.row("one 200 MB line through cat: daemon peak resident / record size", peak, record,
                      peak / record, "<= 2.5x", peak / record <= 2.5, "MiB")
            bench.row("  daemon resident 5 s after it", after, None, None, "<= 32 MiB", after <= 32, "MiB")
        else:
            bench.row("  same as a new daemon's first record (learning): peak", peak, record, peak / record,
                      "(info)", None, "MiB")
            bench.row("  daemon resident 5 s after it", after, None, None, "<= 32 MiB", after <= 32, "MiB")
    os.unlink(path)
    os.unlink(short)


def big_record_once(bench, path, first_input):
    """Starts a daemon with first_input, sends the record; returns the
    daemon's peak and its resident memory 5 s later in MiB."""
    sd = bench.state_dir("bigrecord-%s" % os.path.basename(first_input))
    env = bench.env(sd)
    # The record is larger than the default --max-record (64M).
    vs = [bench.viasock, "run", "-W", "600", "--max-record", "256M", "cat"]
    bench.output_of(vs, env, first_input)  # starts the daemon
    pids = bench.daemon_pids(sd)
    if not pids:
        bench.problems.append("200 MB record: no daemon")
        return None, None
    with open("/proc/%d/clear_refs" % pids[0], "w") as f:
        f.write("5")  # the peak from here on
    out = os.path.join(bench.tmp, "line-out")
    code = bench.wait_status(bench.spawn(vs, env, path, out))
    if code != 0 or not bench.same_files(path, out):
        bench.problems.append("200 MB record: status %d, output %s" %
                              (code, "identical" if bench.same_files(path, out) else "DIFFERENT"))
    os.unlink(out)
    peak = status_kib(pids[0], "VmHWM:") / 1024
    time.sleep(5)
    after = status_kib(pids[0], "VmRSS:") / 1024
    bench.stop_daemons(sd)
    return peak, after
