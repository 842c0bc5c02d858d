"""Runs one command and records its wall time and peak RSS:

    python -m bench.measured RESULT_FILE COMMAND [ARG ...]

The peak must be taken here, not in the benchmark process: Linux charges a child the peak RSS of the process that
forked it (the memory it shared until its exec), and the benchmark process holds hundreds of MB. This process is
small, so the peak its child reports is the child's own.
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import time
from pathlib import Path


def main(argv: list[str]) -> int:
    result_file, command = Path(argv[1]), argv[2:]
    started = time.perf_counter()
    code = subprocess.call(command)
    seconds = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024  # kilobytes on Linux
    result_file.write_text(json.dumps({"seconds": seconds, "peak_rss_bytes": peak}), encoding="utf-8")
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv))
