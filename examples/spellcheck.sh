#!/bin/sh
# Spell-checking through viasock, checked against hunspell run directly.
#
#     examples/spellcheck.sh [FILE...]      # default: a small built-in text
#
# `hunspell -a` (the ispell pipe protocol) prints a one-line banner when it
# starts, then answers every input line with one block of lines that ends
# with an empty line. viasock serves it with
#
#     viasock run -T '^$' --prelude-lines 1 hunspell -a -d en_US
#
#   -T '^$'            an output record ends with an empty line;
#   --prelude-lines 1  the banner is read once and every call gets it first,
#                      so each call prints exactly what hunspell would.
#
# Every input line is prefixed with '^', which tells hunspell to read the
# rest of the line as text: a line starting with '*', '&', '@', '+', '-',
# '~', '#', '!' or '%' would otherwise be a command, and some commands print
# no answer at all.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
VIASOCK=${VIASOCK:-$here/../build/viasock}
# A state directory of this example's own, so that the daemon it starts
# (and stops at the end) is never confused with yours.
state=$here/build/spellcheck-state

if ! command -v hunspell >/dev/null 2>&1 || ! hunspell -D </dev/null 2>&1 | grep -q en_US; then
  echo "spellcheck.sh: needs hunspell and its en_US dictionary" \
       "(Debian: apt-get install hunspell hunspell-en-us)" >&2
  exit 1
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

if [ $# -gt 0 ]; then
  cat -- "$@"
else
  cat <<'EOF'
Many comand-line tools spend seconds starting and microseconds per line.
The dictionary is loaded once; every later call is answerred at once.
* a line that starts with a star is text here, not a command
Recieve, seperate, occured: the usual suspects.
EOF
fi | sed 's/^/^/' > "$tmp/input"

mkdir -p "$here/build"
now_ms() { echo $(($(date +%s%N) / 1000000)); }
direct() { hunspell -a -d en_US; }
served() {
  "$VIASOCK" run --state-dir "$state" -W 30 -T '^$' --prelude-lines 1 \
    hunspell -a -d en_US
}
# One call per line, the way a loop over many small documents calls a tool.
per_line() {
  while IFS= read -r line; do
    printf '%s\n' "$line" | "$@"
  done < "$tmp/input"
}

status=0
same() {
  if cmp "$tmp/direct.$1" "$tmp/served.$1"; then
    echo "$2: identical to hunspell run directly"
  else
    status=1
  fi
}

# The whole text in one call (this one starts the daemon).
direct < "$tmp/input" > "$tmp/direct.whole"
served < "$tmp/input" > "$tmp/served.whole"
same whole "whole text, one call through viasock"

t0=$(now_ms)
per_line direct > "$tmp/direct.lines"
t1=$(now_ms)
per_line served > "$tmp/served.lines"
t2=$(now_ms)
same lines "one call per line through viasock"
lines=$(wc -l < "$tmp/input")
echo "$lines calls: hunspell directly $((t1 - t0)) ms, through viasock $((t2 - t1)) ms"

echo "misspelled words:"
grep '^[&#]' "$tmp/served.whole" | cut -d' ' -f2 | sort -u | sed 's/^/  /'

"$VIASOCK" stop --state-dir "$state" --all >/dev/null
exit $status
