#!/usr/bin/env python3
"""A line-flushing filter: answers each input line at once.

For every line it writes the line's length and the line reversed, and flushes
before it reads the next line, as the viasock tool protocol asks.
"""
import sys


def main():
    read = sys.stdin.buffer
    out = sys.stdout.buffer
    for line in read:
        body = line.rstrip(b"\n")
        out.write(b"%d %s\n" % (len(body), body[::-1]))
        out.flush()


if __name__ == "__main__":
    main()
