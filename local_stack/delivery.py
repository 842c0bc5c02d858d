"""The capture path of a deployment, played by the local stack: a subscription filter's delivery stream that writes
the capture records of the inference function's log stream (see ``logs``) to the data bucket, partitioned by model,
version and hour, as Firehose's dynamic partitioning does on AWS.

Records are buffered for ``interval`` seconds (Firehose buffers too) and written as one object per partition; a
write that fails keeps its records for the next attempt, and stopping writes whatever is left, so no record is
dropped.
"""

from __future__ import annotations

import json
import logging
import re
import secrets
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from typing import Any

log = logging.getLogger("local_stack.delivery")

CAPTURE_PREFIX = "capture/"
ERROR_PREFIX = "capture-errors/"
# What the subscription filter matches: SageMaker Data Capture records, which are written as their own lines.
_CAPTURE_LINE = b'{"captureData":'
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
_VERSION = re.compile(r"[1-9][0-9]{0,9}")
_TIME = re.compile(r"(\d{4})-(\d{2})-(\d{2})T(\d{2})")


def is_capture_record(line: bytes) -> bool:
    return line.startswith(_CAPTURE_LINE)


def partition_prefix(record: dict[str, Any]) -> str:
    """Where a record lands: ``capture/MODEL/VERSION/yyyy/mm/dd/hh/`` from its model, version and inference time;
    a record without them goes under the error prefix, as a record Firehose cannot partition does."""
    model, version = record.get("model"), record.get("version")
    when = _TIME.match(str((record.get("eventMetadata") or {}).get("inferenceTime", "")))
    if not (isinstance(model, str) and _NAME.fullmatch(model) and isinstance(version, str)):
        return ERROR_PREFIX
    if not _VERSION.fullmatch(version) or when is None:
        return ERROR_PREFIX
    return f"{CAPTURE_PREFIX}{model}/{version}/{'/'.join(when.groups())}/"


class CaptureDelivery:
    """The delivery stream: ``add`` takes each capture record the subscription filter matched."""

    def __init__(
        self, put_object: Callable[..., Any], bucket: str, *, stream_name: str = "capture", interval: float = 1.0
    ) -> None:
        self._put = put_object
        self._bucket = bucket
        self._stream = stream_name
        self._interval = interval
        self._pending: dict[str, list[bytes]] = defaultdict(list)
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="capture-delivery", daemon=True)
        self.delivered = 0

    def start(self) -> None:
        self._thread.start()

    def add(self, line: bytes) -> None:
        try:
            prefix = partition_prefix(json.loads(line))
        except ValueError:
            prefix = ERROR_PREFIX
        with self._lock:
            self._pending[prefix].append(line)

    def _run(self) -> None:
        while not self._stopping.wait(self._interval):
            self.flush()

    def flush(self) -> None:
        """Write each partition's buffered records as one object; a failed write keeps them for the next try."""
        with self._lock:
            batches, self._pending = self._pending, defaultdict(list)
        for prefix, lines in batches.items():
            stamp = time.strftime("%Y-%m-%d-%H-%M-%S", time.gmtime())
            key = f"{prefix}{self._stream}-1-{stamp}-{secrets.token_hex(8)}"
            try:
                self._put(Bucket=self._bucket, Key=key, Body=b"\n".join(lines) + b"\n")
            except Exception as error:  # S3 down for a moment: keep the records and try again
                log.warning("capture delivery to s3://%s/%s failed, will retry: %s", self._bucket, key, error)
                with self._lock:
                    self._pending[prefix][:0] = lines
                continue
            self.delivered += len(lines)

    def stop(self) -> None:
        """Stop the timer and write what is left (called once the functions have stopped writing)."""
        self._stopping.set()
        if self._thread.is_alive():
            self._thread.join(timeout=10)
        self.flush()
