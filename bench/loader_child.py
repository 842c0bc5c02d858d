"""Child process of the loader figure: the loader handler invoked on S3 events, as Lambda invokes it.

    python -m bench.loader_child EVENT_FILE RESULT_FILE [WARM_UP_EVENT_FILE]

With a warm-up event, that event is handled first, as a deployed loader has handled earlier uploads (its libraries
are imported, its client is made). Writes the summary and duration of the EVENT_FILE invocation and the process's
peak RSS (VmHWM) to RESULT_FILE as JSON; the function's logs go to stdout as on Lambda.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path


def peak_rss_bytes() -> int:
    for line in Path("/proc/self/status").read_text(encoding="utf-8").splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError("no VmHWM in /proc/self/status")


def main(argv: list[str]) -> int:
    event = json.loads(Path(argv[1]).read_text(encoding="utf-8"))
    from lambdas.loader.handler import lambda_handler
    from local_stack.lambda_context import LocalLambdaContext

    if len(argv) > 3:
        warm_up = lambda_handler(json.loads(Path(argv[3]).read_text(encoding="utf-8")), LocalLambdaContext("loader"))
        if warm_up.get("published") != 1:
            raise RuntimeError(f"the warm-up event published nothing: {warm_up}")
    started = time.perf_counter()
    counts = lambda_handler(event, LocalLambdaContext("loader", timeout_seconds=900))
    seconds = time.perf_counter() - started
    result = {"counts": counts, "invocation_seconds": seconds, "vm_hwm_bytes": peak_rss_bytes()}
    Path(argv[2]).write_text(json.dumps(result), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
