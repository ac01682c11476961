"""What bench/run says of the machine it runs on: its CPUs, kernel, Python
and load, and how idle its CPUs are before the run."""

import os
import platform
import time


def cpu_idle_share(seconds=1.0):
    """Share of all CPUs idle over a short interval, from /proc/stat."""
    def sample():
        with open("/proc/stat") as f:
            fields = [int(v) for v in f.readline().split()[1:]]
        return fields[3] + fields[4], sum(fields)
    idle0, total0 = sample()
    time.sleep(seconds)
    idle1, total1 = sample()
    return (idle1 - idle0) / max(1, total1 - total0)


def describe_machine():
    cpus = os.cpu_count()
    model = ""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    load = os.getloadavg()
    return "%d CPUs (%s), Linux %s, Python %s, load average %.2f %.2f %.2f" % (
        cpus, model, platform.release(), platform.python_version(), *load)
