"""Step 9 of bench/run: the first call of a model-loading tool, without any
option, against the direct run: wall time, and the peak of the summed
resident memory of the tool's processes alive at once (sampled every 10 ms
from /proc). One start and one model in memory is the target."""

import contextlib
import os
import shutil
import statistics
import threading
import time

MODEL_MB = 300


def tool_rss_kib(script):
    """Summed VmRSS of the live processes running `script`."""
    total = 0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open("/proc/%s/cmdline" % entry, "rb") as f:
                if script.encode() not in f.read():
                    continue
            with open("/proc/%s/status" % entry) as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
        except OSError:
            continue
    return total


@contextlib.contextmanager
def peak_sampler(script):
    """Samples tool_rss_kib(script) every 10 ms while the block runs; yields
    a one-item list that holds the peak seen so far."""
    peak, done = [0], threading.Event()

    def sample():
        while not done.is_set():
            peak[0] = max(peak[0], tool_rss_kib(script))
            done.wait(0.01)

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    try:
        yield peak
    finally:
        done.set()
        thread.join()


def first_call(bench, flush):
    label = "flushing" if flush else "buffering"
    n = 2 if bench.quick else 4
    script = os.path.join(os.path.dirname(os.path.abspath(__file__)), "modeltool.py")
    data = bench.write_file("model-input", b"".join(b"line %d\n" % i for i in range(200)))
    base = dict(bench.base_env, MODEL_MB=str(MODEL_MB), MODEL_CPU="1.0", MODEL_FLUSH="1" if flush else "0")
    base.pop("PYTHONUNBUFFERED", None)
    tool = [bench.python, script]
    counter = [0]
    peaks = {"viasock": [], "direct": []}

    def through_viasock():
        counter[0] += 1
        sd = bench.state_dir("model-%s-%d" % (label, counter[0]))
        env = dict(base, VIASOCK_DIR=sd)
        with peak_sampler(script) as peak:
            t = bench.timed([bench.viasock, "run"] + tool, env, data)
            # The terminal instance of a buffering tool starts after its
            # first call: its memory counts while the other may still live.
            time.sleep(0.5 if flush else 2.5)
        peaks["viasock"].append(peak[0])
        bench.stop_daemons(sd)
        shutil.rmtree(sd, ignore_errors=True)
        return t

    def direct():
        with peak_sampler(script) as peak:
            t = bench.timed(tool, base, data)
        peaks["direct"].append(peak[0])
        return t

    sd = bench.state_dir("model-%s-check" % label)
    code, out = bench.output_of([bench.viasock, "run"] + tool, dict(base, VIASOCK_DIR=sd), data)
    bench.stop_daemons(sd)
    code_direct, out_direct = bench.output_of(tool, base, data)
    if code != code_direct or out != out_direct:
        bench.problems.append("first call, %s model tool: status %d, %d bytes against the direct run's %d, %d"
                              % (label, code, len(out), code_direct, len(out_direct)))
    ta, tb = bench.alternate(n, through_viasock, direct)
    a, b = statistics.median(ta), statistics.median(tb)
    limit = b * 1.05 + 0.030
    bench.row("first call, %s tool loading %d MiB and 1 s of CPU (%d runs)" % (label, MODEL_MB, n),
              a * 1e3, b * 1e3, a / b, "<= direct + 5 % + 30 ms", a <= limit)
    ma, mb = max(peaks["viasock"]), max(peaks["direct"])
    bench.row("  tool memory at its peak, all instances, %s" % label, ma / 1024, mb / 1024, ma / mb, "<= 1.1x",
              ma / mb <= 1.1, "MiB")
