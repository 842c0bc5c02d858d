"""Runs one command and records its wall time, its peak RSS and the peak of its anonymous memory:

    python -m bench.measured RESULT_FILE COMMAND [ARG ...]

The peak RSS must be taken here, not in the benchmark process: Linux charges a child the peak RSS of the process
that forked it (the memory it shared until its exec), and the benchmark process holds hundreds of MB. This process
is small, so the peak its child reports is the child's own.

Peak RSS also counts the pages of files the command reads through a memory map: clean page cache, which the kernel
drops under memory pressure rather than failing the process. The kernel keeps no peak of anonymous memory (the heap
and arrays the process allocates, which it cannot drop), so this process samples the child's ``RssAnon`` every
``SAMPLE_SECONDS`` from outside it, where the child's own threads cannot hold the sampling up.
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import time
from pathlib import Path

SAMPLE_SECONDS = 0.002


def anonymous_bytes(status: Path) -> int:
    """The process's resident anonymous memory, 0 once it has exited."""
    try:
        text = status.read_text(encoding="utf-8")
    except OSError:
        return 0
    for line in text.splitlines():
        if line.startswith("RssAnon:"):
            return int(line.split()[1]) * 1024
    return 0


def main(argv: list[str]) -> int:
    result_file, command = Path(argv[1]), argv[2:]
    started = time.perf_counter()
    child = subprocess.Popen(command)
    status = Path(f"/proc/{child.pid}/status")
    anonymous_peak = 0
    while child.poll() is None:
        anonymous_peak = max(anonymous_peak, anonymous_bytes(status))
        time.sleep(SAMPLE_SECONDS)
    seconds = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024  # kilobytes on Linux
    result = {"seconds": seconds, "peak_rss_bytes": peak, "peak_anonymous_bytes": anonymous_peak}
    result_file.write_text(json.dumps(result), encoding="utf-8")
    return child.returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv))
