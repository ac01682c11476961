"""What the differential test (test_differential.py) draws and judges: its
settings from the environment, the option sets crossed with the generated
tools of difftools.py, the combinations known to break the promise, a group
of calls on one tool, the judgement of one call against the direct run, and
the stand-in binary with a planted defect that the oracle must catch."""

import os
import random

import difftools
from harness import HANG_TIMEOUT

SEED = int(os.environ.get("VIASOCK_DIFF_SEED") or 21)
CASES = int(os.environ.get("VIASOCK_DIFF_CASES") or 300)
# Groups run side by side: most of a call's time is waiting on processes.
WORKERS = 3
# A call that takes longer than this is reported as hung.
CALL_TIMEOUT = HANG_TIMEOUT
# Only these groups (numbers, comma-separated), to replay a failure.
ONLY = [int(g) for g in (os.environ.get("VIASOCK_DIFF_GROUPS") or "").split(",") if g]
# How many reproductions a failure prints.
SHOW = int(os.environ.get("VIASOCK_DIFF_SHOW") or 8)

# Option sets: (name, viasock options, what the generated tool must be).
# The tool matches the option most of the time, as a user's would; when it
# does not, viasock must still fail loudly rather than print other bytes.
OPTION_SETS = [
    ("none", [], {}),
    ("pipe", ["--pipe"], {}),
    ("pty", ["--pty"], {}),
    ("L", ["-L"], {}),
    ("t", ["-t", "^$"], {"framing": "para"}),
    ("T", ["-T", r"^\.$"], {"terminator": True}),
    ("0", ["-0"], {"sep": b"\0"}),
    ("P", ["-P"], {"prelude": True}),
    ("j2", ["-j", "2"], {}),
    ("retry", ["--retry", "1"], {}),
]

# Combinations known to break the promise, each with the reason, so that
# the suite stays green while they are open: (predicate on group, scenario
# and call, why). A fix removes its entry. They are still counted in the
# output, and VIASOCK_DIFF_STRICT=1 fails on them too.
KNOWN_BROKEN = [
    (lambda g, s, c: g.tool["at_eof"] is not None,
     "what the tool prints once its input closes (a summary, text at exit) "
     "cannot reach a call served by an instance that outlives it: dropped, "
     "status 0, until an instance's input closes once and the tool is "
     "remembered as stateful (docs/DESIGN.md, 'What viasock cannot serve')"),
    (lambda g, s, c: g.tool["prelude"] and g.tool["flush"] != "always" and g.option_name != "P",
     "a banner the tool buffers on a pipe comes out only at its exit, like "
     "text printed at the end of its input: calls without records lose it"),
    (lambda g, s, c: g.option_name == "retry" and g.tool["exit_at"] is not None,
     "--retry is asked for: records in flight on a tool that died go to a "
     "fresh one, so a tool that dies after its Nth record (whichever it is) "
     "answers them all where its direct run died"),
]
STRICT = bool(os.environ.get("VIASOCK_DIFF_STRICT"))


class Call:
    """One viasock call to check: its caller number, input and result."""

    def __init__(self, caller, kind, data):
        self.caller, self.kind, self.data = caller, kind, data
        self.stdout = self.stderr = b""
        self.status = None
        self.timed_out = False
        self.log = ""  # the daemon's log, when the call hung


class Group:
    """A tool, an option set, a state directory and the calls made on it."""

    def __init__(self, number, rng):
        self.number = number
        self.option_name, options, needs = rng.choice(OPTION_SETS)
        self.options = list(options)
        self.framing = needs.get("framing", "nul" if needs.get("sep") else "line")
        prelude = rng.choice((1, 2)) if needs.get("prelude") else None
        if prelude:
            self.options.append(str(prelude))
        # One time in ten the tool does not do what the option says.
        matches = rng.random() < 0.9
        self.tool = difftools.random_tool(
            rng, sep=needs.get("sep", b"\n"),
            prelude=prelude if matches else None,
            terminator=needs.get("terminator") if matches else None)
        # --pty asks for what the tool prints on a terminal, which the
        # direct run here (its stdout a pipe) does not show.
        if self.option_name == "pty":
            self.tool["colour"] = False
        self.scenarios = ["cold", "warm"]
        if rng.random() < 0.5:
            self.scenarios.append("three")
        if rng.random() < 0.25:
            self.scenarios.append("restart")
        self.rng = random.Random(rng.random())
        self.kinds = ["empty", "one", "many", "many", "nofinal", "big"]
        self.calls = []   # (scenario, Call)
        self.callers = 0  # callers numbered so far

    def draw_kind(self, allow_big=True):
        return self.rng.choice([k for k in self.kinds if allow_big or k != "big"])

    def describe(self):
        return "group %d: tool [%s], options %s" % (
            self.number, difftools.describe(self.tool), self.options or "(none)")


def judge(direct, call, foreign_tags):
    """None when the call kept the promise against the direct run, else why
    not."""
    for tag in foreign_tags:
        if tag in call.stdout:
            return "another caller's bytes (%r) in the output" % tag
    if call.timed_out:
        return "did not finish within %s s" % CALL_TIMEOUT
    if call.stdout == direct.stdout and call.status == direct.returncode:
        return None
    loud = any(line.startswith(b"viasock: ") for line in call.stderr.split(b"\n"))
    if call.status != 0 and loud:
        return None
    if call.status == 0:
        if call.stdout == direct.stdout:
            return "status 0 where the direct run exited %d" % direct.returncode
        return "other bytes with status 0"
    return "status %d without a 'viasock: ' line on stderr (direct: %d, %s bytes)" % (
        call.status, direct.returncode,
        "same" if call.stdout == direct.stdout else "other")


# Stands in for the viasock binary in test_the_oracle_fails_on_a_planted_defect:
# runs the real one, then plants a defect in what a call prints (status kept).
#   drop-last-line: the call's last line is lost;
#   foreign-bytes:  a line of an earlier caller's input is added.
PLANTED = """#!%(python)s -S
import os, subprocess, sys
real, defect, inputs = %(real)r, %(defect)r, %(inputs)r
if sys.argv[1:2] != ["run"]:
    os.execv(real, [real] + sys.argv[1:])
data = sys.stdin.buffer.read()
# Whole or not at all: a caller running beside this one must not read a
# file it has only begun to write.
others = sorted(name for name in os.listdir(inputs) if not name.endswith(".part"))
with open(os.path.join(inputs, "%%d.part" %% os.getpid()), "wb") as f:
    f.write(data)
os.rename(os.path.join(inputs, "%%d.part" %% os.getpid()), os.path.join(inputs, str(os.getpid())))
r = subprocess.run([real] + sys.argv[1:], input=data, stdout=subprocess.PIPE)
out = r.stdout
if defect == "drop-last-line":
    out = out[:out.rstrip(b"\\n").rfind(b"\\n") + 1]
elif others:
    with open(os.path.join(inputs, others[0]), "rb") as f:
        out += f.read().split(b"\\n")[0] + b"\\n"
sys.stdout.buffer.write(out)
sys.exit(r.returncode)
"""
