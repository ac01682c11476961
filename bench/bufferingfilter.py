# An unchanged Python filter: it does not flush, so on a pipe it buffers its
# output, and viasock learns to serve it through a terminal.
import sys

for line in sys.stdin:
    sys.stdout.write(line.upper())
