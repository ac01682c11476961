"""Generated filters and inputs for the differential test (test_differential).

A tool is a dict of behaviours; tool_source() writes it as a small Python
script that misbehaves in exactly those ways, and nothing else, so that a
failing case prints a short program. The behaviours are those of real filters:

  lines     answer lines per record: "one"; "two"; "vary" (0..2 by the
            record's word count); "skip" (no answer to every third record);
            "words" (one line per word, 0..n); "lookahead" (one line per
            word, the last word held until more input comes or it ends)
  flush     "always" (flushes every answer); "stdio" (flushes on a terminal
            or under 'stdbuf -oL', as C stdio does; buffers on a pipe);
            "never" (buffers until its buffer fills or it exits)
  sep       the record separator, in and out: b"\\n", or b"\\0" for -0
  prelude   lines printed at start-up (a banner)
  counter   state between records: every line starts with a running count
  colour    escape sequences around every line when stdout is a terminal
  partial   writes each line in two pieces, pausing on the first records
  late      answers every fourth record (from the second) 0.2 s late
  terminator  prints a "." line after each answer (for -T)
  at_eof    None; "summary" (a line after the input closed); "partial"
            (text without a newline from an atexit handler, at any exit)
  exit_at   exits with status 3 on reading record N (None: never)
  stderr    a subset of {"start", "record", "exit"}: lines on stderr

Inputs carry their caller in every word (c<CALLER>r<RECORD>w<WORD>), so that
another caller's bytes in an answer are found by looking for its tag.
"""

import random
import sys

LINE_MODES = ("one", "two", "vary", "skip", "words", "lookahead")


def random_tool(rng, sep=b"\n", prelude=None, terminator=None):
    """A random combination of behaviours; the arguments fix those an option
    set needs (None: drawn at random). Well-behaved tools (one flushed line
    per record) come up often enough that success is checked, not only
    loud failures."""
    well_behaved = rng.random() < 0.3
    def flag(p):
        return not well_behaved and rng.random() < p
    return {
        "lines": "one" if well_behaved or rng.random() < 0.3 else rng.choice(LINE_MODES),
        "flush": "always" if well_behaved else rng.choice(("always", "always", "stdio", "never")),
        "sep": sep,
        "prelude": prelude if prelude is not None else (rng.choice((1, 2)) if flag(0.15) else 0),
        "counter": flag(0.25),
        "colour": flag(0.2),
        "partial": flag(0.2),
        "late": flag(0.15),
        "terminator": terminator if terminator is not None else flag(0.05),
        "at_eof": rng.choice(("summary", "partial")) if flag(0.25) else None,
        "exit_at": rng.choice((1, 3, 6)) if flag(0.12) else None,
        "stderr": sorted(s for s in ("start", "record", "exit") if flag(0.15)),
    }


def describe(tool):
    """The tool's behaviours in one line, for the test's output."""
    parts = ["lines=" + tool["lines"], "flush=" + tool["flush"]]
    if tool["sep"] != b"\n":
        parts.append("sep=NUL")
    for key in ("prelude", "counter", "colour", "partial", "late", "terminator",
                "at_eof", "exit_at"):
        if tool[key]:
            parts.append(key if tool[key] is True else "%s=%s" % (key, tool[key]))
    if tool["stderr"]:
        parts.append("stderr=" + "+".join(tool["stderr"]))
    return " ".join(parts)


def tool_source(tool):
    """The Python script of a tool (see the module's docstring)."""
    src = ["#!%s -S" % sys.executable,
           "# " + describe(tool),
           "import os, sys, time",
           "SEP = %r" % tool["sep"],
           "out = sys.stdout.buffer",
           "TTY = os.isatty(1)"]
    flush = {"always": "True",
             "stdio": "TTY or os.environ.get('_STDBUF_O') in ('L', '0')",
             "never": "False"}[tool["flush"]]
    src.append("FLUSH = " + flush)
    if tool["at_eof"] == "partial":
        src += ["import atexit",
                "atexit.register(lambda: (out.write(b'bye'), out.flush()))"]
    if "start" in tool["stderr"]:
        src.append("os.write(2, b'tool: starting\\n')")
    src += ["count = 0", "pause = False", "held = None", "",
            "def emit(line):",
            "    global count, pause"]
    if tool["counter"]:
        src += ["    count += 1", "    line = b'%d: ' % count + line"]
    if tool["colour"]:
        src.append("    if TTY: line = b'\\x1b[1m' + line + b'\\x1b[0m'")
    if tool["partial"]:
        src += ["    half = len(line) // 2",
                "    out.write(line[:half])",
                "    if FLUSH: out.flush()",
                "    if pause: time.sleep(0.02)",
                "    line = line[half:]"]
    src += ["    pause = False",
            "    out.write(line + SEP)", ""]
    for i in range(tool["prelude"]):
        src.append("out.write(b'# banner %d ready' + SEP)" % (i + 1))
    if tool["prelude"]:
        src.append("if FLUSH: out.flush()")
    src += ["", "def answer(n, rec):", "    global held, pause", "    pause = n <= 3"]
    if tool["exit_at"]:
        src.append("    if n == %d: sys.exit(3)" % tool["exit_at"])
    if "record" in tool["stderr"]:
        src.append("    os.write(2, b'tool: record %d\\n' % n)")
    if tool["late"]:
        src.append("    if n % 4 == 2: time.sleep(0.2)")
    src.append("    words = rec.split()")
    src += {
        "one": ["    emit(rec + b' |%d' % len(rec))"],
        "two": ["    emit(b'A ' + rec)", "    emit(b'B %d' % len(words))"],
        "vary": ["    for i in range(len(words) % 3):",
                 "        emit(b'%d/' % i + rec)"],
        "skip": ["    if n % 3: emit(rec)"],
        "words": ["    for w in words: emit(w)"],
        "lookahead": ["    for w in words:",
                      "        if held is not None: emit(held)",
                      "        held = w"],
    }[tool["lines"]]
    if tool["terminator"]:
        src.append("    out.write(b'.' + SEP)")
    src += ["    if FLUSH: out.flush()", "",
            "n, buf = 0, b''",
            "while True:",
            "    chunk = os.read(0, 1 << 16)",
            "    if not chunk: break",
            "    buf += chunk",
            "    start = 0",
            "    while (end := buf.find(SEP, start)) >= 0:",
            "        n += 1",
            "        answer(n, buf[start:end])",
            "        start = end + 1",
            "    buf = buf[start:]",
            "if buf:",
            "    n += 1",
            "    answer(n, buf)"]
    if tool["lines"] == "lookahead":
        src.append("if held is not None: emit(held)")
    if tool["at_eof"] == "summary":
        src.append("out.write(b'total %d records' % n + SEP)")
    if "exit" in tool["stderr"]:
        src.append("os.write(2, b'tool: done\\n')")
    return "\n".join(src) + "\n"


# ----------------------------------------------------------- inputs

INPUT_KINDS = ("empty", "one", "many", "nofinal", "big")
MiB = 1 << 20


def caller_tag(caller):
    """What every word of caller's input starts with."""
    return b"c%dr" % caller


def make_input(rng, kind, caller, framing):
    """Input of kind for caller. framing: "line" (one record a line), "nul"
    (NUL-terminated records, for -0) or "para" (records of one or two lines
    ending with a blank line, for -t '^$')."""
    def record(n, words):
        return b" ".join(b"c%dr%dw%d" % (caller, n, w) for w in range(words))
    if kind == "empty":
        return b""
    if kind == "big":
        words = MiB // len(b"c%dr1w99999 " % caller) + 1
        records = [record(1, words)]
    else:
        count = 1 if kind == "one" else rng.randint(5, 12)
        records = [record(n, rng.randint(0 if kind != "one" else 1, 4))
                   for n in range(1, count + 1)]
    if framing == "nul":
        data = b"".join(r + b"\0" for r in records)
    elif framing == "para":
        data = b"".join(r.replace(b" c", b"\nc", 1) + b"\n\n" for r in records)
    else:
        data = b"".join(r + b"\n" for r in records)
    if kind == "nofinal":
        data = data.rstrip(b"\0\n")
    return data


def summarize(data):
    """A short description of an input or output, for a failure report."""
    if len(data) <= 240:
        return repr(data)
    return "%d bytes, %d lines: %r ... %r" % (len(data), data.count(b"\n"),
                                               data[:120], data[-80:])
