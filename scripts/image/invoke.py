"""Calls one handler inside the image the way the Lambda runtime would, without the runtime.

    python3 invoke.py lambdas.loader.handler.lambda_handler RESULT.json EVENT.json [EVENT.json ...]

The events are handled in order by one process, as by one warm execution environment. The handler's own output
(JSON logs, metrics) goes to stdout; the time its module took to import and, per event, its return value and
duration go to RESULT.json. Runs on the image's Python only: standard library imports, nothing from the project venv.
"""

from __future__ import annotations

import importlib
import json
import os
import sys
import time
import uuid
from pathlib import Path
from typing import Any


class LambdaContext:
    """The attributes of the runtime's context object that handlers and Powertools read."""

    function_name = "image-test"
    function_version = "$LATEST"
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:image-test"
    memory_limit_in_mb = 1024
    log_group_name = "/aws/lambda/image-test"
    log_stream_name = "image-test"

    def __init__(self, timeout_seconds: float = 30.0) -> None:
        self.aws_request_id = str(uuid.uuid4())
        self._deadline = time.monotonic() + timeout_seconds

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def main(handler_path: str, result_path: str, *event_paths: str) -> None:
    # The runtime puts the task root first on the import path; dependencies were installed there with --target.
    sys.path.insert(0, os.environ.get("LAMBDA_TASK_ROOT", "/var/task"))
    module_name, _, function_name = handler_path.rpartition(".")
    started = time.perf_counter()
    module = importlib.import_module(module_name)
    import_seconds = time.perf_counter() - started
    handler = getattr(module, function_name)
    calls = []
    for event_path in event_paths:
        event: Any = json.loads(Path(event_path).read_text(encoding="utf-8"))
        started = time.perf_counter()
        result = handler(event, LambdaContext())
        calls.append({"result": result, "seconds": time.perf_counter() - started})
    Path(result_path).write_text(json.dumps({"import_seconds": import_seconds, "calls": calls}), encoding="utf-8")


if __name__ == "__main__":
    if len(sys.argv) < 4:
        sys.exit(__doc__)
    main(*sys.argv[1:])
