#!/usr/bin/env python3
"""A tool that loads a model: it touches MODEL_MB MiB of memory and spends
about MODEL_CPU seconds of CPU at start, then answers each line (upper
case). With MODEL_FLUSH=1 it flushes every answer; otherwise it buffers on
a pipe as most tools do."""

import os
import sys
import time

model = bytearray(int(os.environ.get("MODEL_MB", "300")) << 20)
for i in range(0, len(model), 4096):   # every page resident
    model[i] = 1
deadline = time.process_time() + float(os.environ.get("MODEL_CPU", "1.0"))
while time.process_time() < deadline:
    pass
flush = os.environ.get("MODEL_FLUSH") == "1"
for line in sys.stdin:
    sys.stdout.write(line.upper())
    if flush:
        sys.stdout.flush()
