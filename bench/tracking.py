"""Step 10 of bench/run: what tracking the files a tool reads at start
costs. The start-up of a Python tool importing a few hundred standard
modules, tracked against --no-track (each call cold, in a fresh state
directory); and the CPU the idle daemon spends checking 2,000 tracked files
once a second."""

import os
import statistics
import subprocess
import time

MODULES = ("json email email.mime.multipart email.mime.text xml.dom.minidom xml.etree.ElementTree "
           "http.client urllib.request logging argparse csv decimal fractions statistics unittest "
           "asyncio sqlite3 ssl tarfile zipfile difflib pydoc inspect dataclasses typing "
           "concurrent.futures subprocess shutil tempfile pathlib glob gettext locale calendar "
           "pprint textwrap hashlib hmac secrets base64 html.parser smtplib imaplib ftplib "
           "xmlrpc.client configparser tomllib plistlib wave colorsys").split()

IMPORTER = "import sys\nimport %s\nfor line in sys.stdin:\n    print(line, end='', flush=True)\n" % ", ".join(MODULES)

READER = ("import os, sys\n"
          "for name in sorted(os.listdir(sys.argv[1])):\n"
          "    open(os.path.join(sys.argv[1], name)).close()\n"
          "for line in sys.stdin:\n"
          "    print(line, end='', flush=True)\n")


def cold_call(bench, label, tool, extra, one):
    sd = bench.state_dir(label)
    start = time.perf_counter()
    with open(one, "rb") as stdin:
        subprocess.run([bench.viasock, "run", "-W", "5"] + extra + tool, env=bench.env(sd), stdin=stdin,
                       stdout=subprocess.DEVNULL, check=True, timeout=60)
    elapsed = time.perf_counter() - start
    bench.stop_daemons(sd)
    return elapsed


def cpu_seconds(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def start_up(bench, python):
    n = 5 if bench.quick else 20
    tool = [python, bench.write_file("importer.py", IMPORTER.encode())]
    one = bench.write_file("one-line", b"x\n")
    runs = {"tracked": [], "untracked": []}
    for i in range(n):
        runs["tracked"].append(cold_call(bench, "track-%d" % i, tool, [], one))
        runs["untracked"].append(cold_call(bench, "notrack-%d" % i, tool, ["--no-track"], one))
    a, b = statistics.median(runs["tracked"]), statistics.median(runs["untracked"])
    bench.row("cold call, python importing %d packages (~300 modules), tracked / --no-track (%d runs)" % (len(MODULES), n),
              a * 1e3, b * 1e3, a / b, "<= 1.05x", a / b <= 1.05)


def idle_cpu(bench, python, daemon_pids):
    files = os.path.join(bench.tmp, "tracked-files")
    os.makedirs(files, exist_ok=True)
    for i in range(2000):
        with open(os.path.join(files, "f%04d" % i), "w") as f:
            f.write("%d\n" % i)
    tool = [python, bench.write_file("reader.py", READER.encode())]
    sd = bench.state_dir("idle-tracked")
    subprocess.run([bench.viasock, "run", "-W", "600"] + tool + [files], env=bench.env(sd), input=b"x\n",
                   stdout=subprocess.DEVNULL, check=True, timeout=60)
    listed = subprocess.run([bench.viasock, "list", "--json", "--state-dir", sd], env=bench.env(sd),
                            stdout=subprocess.PIPE, check=True, timeout=30).stdout.decode()
    if listed.count("/tracked-files/f") < 2000:
        bench.problems.append("idle daemon: fewer than 2,000 tracked files listed")
    pid = daemon_pids(sd)[0]
    seconds = 5 if bench.quick else 20
    before = cpu_seconds(pid)
    time.sleep(seconds)
    share = (cpu_seconds(pid) - before) / seconds * 100
    bench.stop_daemons(sd)
    bench.row("idle daemon with 2,000 tracked files, CPU over %d s" % seconds, share, None, None, "< 1 % of a core",
              share < 1, unit="%")
