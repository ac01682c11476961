#!/usr/bin/env python3
"""A tool with known delays: sleeps START seconds (default 0.5), then echoes
each line, sleeping PER_LINE seconds (default 0) before each answer.

The start-up sleep stands for loading a model; every answer is flushed at
once, as the viasock tool protocol asks.

    slowstart.py [START [PER_LINE]]
"""
import sys
import time


def main():
    start = float(sys.argv[1]) if len(sys.argv) > 1 else 0.5
    per_line = float(sys.argv[2]) if len(sys.argv) > 2 else 0.0
    time.sleep(start)
    out = sys.stdout.buffer
    for line in sys.stdin.buffer:
        if per_line:
            time.sleep(per_line)
        out.write(line)
        out.flush()


if __name__ == "__main__":
    main()
