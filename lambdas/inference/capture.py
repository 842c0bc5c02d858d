"""Captured requests and answers as SageMaker Data Capture records, one JSON line each, written to the function's
log stream. A subscription filter on the log group sends these lines (and no others) to Firehose, which partitions
them by model, version and hour into the data bucket: the function opens no connection and waits on nothing.

A record is SageMaker's (``captureData.endpointInput`` / ``endpointOutput`` with ``observedContentType``, ``mode``,
``data`` and ``encoding``; ``eventMetadata`` with ``eventId``, ``inferenceTime`` and ``inferenceId``;
``eventVersion``) plus ``model``, ``version`` and ``shadow``. A record that would pass the size of a log event has its
data cut to fit and says so (``truncated``).
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from typing import Any

import orjson
import pybase64

# CloudWatch Logs takes events up to 256 KiB, counted with 26 bytes of its own; the rest is room for the line end.
MAX_RECORD_BYTES = 256 * 1024 - 26 - 64
EVENT_VERSION = "0"
_JSON, _CSV, _BASE64 = "JSON", "CSV", "BASE64"


@dataclass(frozen=True, slots=True)
class Payload:
    content_type: str
    data: bytes | str  # as the body came or went: JSON or CSV text, or the bytes of a binary body

    def encoded(self) -> tuple[str, str]:
        """The data as a record holds it, and its encoding: text for JSON and CSV, base64 for anything else."""
        media = self.content_type.partition(";")[0].strip().lower()
        if isinstance(self.data, str):
            text = self.data
        else:
            try:
                text = self.data.decode("utf-8")
            except UnicodeDecodeError:
                return pybase64.b64encode(self.data).decode("ascii"), _BASE64
        if media == "text/csv":
            return text, _CSV
        if media.endswith("json") or media.endswith("+json"):
            return text, _JSON
        return pybase64.b64encode(text.encode()).decode("ascii"), _BASE64


_second = (0, "")


def _inference_time() -> str:
    """The current second, UTC, as SageMaker writes it; formatted once a second."""
    global _second
    now = int(time.time())
    if _second[0] != now:
        _second = (now, time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now)))
    return _second[1]


def record(
    request: Payload,
    response: Payload,
    *,
    model: str,
    version: int,
    shadow: bool,
    inference_id: str | None,
) -> bytes:
    """One capture record as a JSON line (without its line end), cut to fit a log event."""
    input_data, input_encoding = request.encoded()
    output_data, output_encoding = response.encoded()
    metadata: dict[str, Any] = {"eventId": str(uuid.uuid4()), "inferenceTime": _inference_time()}
    if inference_id:
        metadata["inferenceId"] = inference_id
    body: dict[str, Any] = {
        "captureData": {
            "endpointInput": _side(request.content_type, "INPUT", input_data, input_encoding),
            "endpointOutput": _side(response.content_type, "OUTPUT", output_data, output_encoding),
        },
        "eventMetadata": metadata,
        "eventVersion": EVENT_VERSION,
        "model": model,
        "version": str(version),
        "shadow": shadow,
    }
    line = orjson.dumps(body)
    if len(line) <= MAX_RECORD_BYTES:
        return line
    return _truncated(body, len(line))


def _side(content_type: str, mode: str, data: str, encoding: str) -> dict[str, str]:
    return {"observedContentType": content_type, "mode": mode, "data": data, "encoding": encoding}


def _truncated(body: dict[str, Any], size: int) -> bytes:
    """Cut the input's data, then the output's, until the record fits; the record says it was cut."""
    body["truncated"] = True
    excess = size - MAX_RECORD_BYTES + len(b',"truncated":true')
    for side in ("endpointInput", "endpointOutput"):
        part = body["captureData"][side]
        data = part["data"]
        # Cut by characters and measure again: escaping makes a character take up to six bytes in the line.
        while excess > 0 and data:
            keep = max(0, len(data) - max(excess, 1))
            data = data[:keep]
            part["data"] = data
            line = orjson.dumps(body)
            excess = len(line) - MAX_RECORD_BYTES
        if excess <= 0:
            break
    return orjson.dumps(body)
