"""Captured requests and answers as SageMaker Data Capture records, one JSON line each, written to the function's
log stream. A subscription filter on the log group sends these lines (and no others) to Firehose, which partitions
them by model, version and hour into the data bucket: the function opens no connection and waits on nothing.

A record is SageMaker's (``captureData.endpointInput`` / ``endpointOutput`` with ``observedContentType``, ``mode``,
``data`` and ``encoding``; ``eventMetadata`` with ``eventId``, ``inferenceTime`` and ``inferenceId``;
``eventVersion``) plus ``model``, ``version`` and ``shadow``. A record that would pass the size of a log event has its
data cut to fit and says so (``truncated``).
"""

from __future__ import annotations

import itertools
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


@dataclass(slots=True)  # two per captured request: a plain slotted class builds faster than a frozen one
class Payload:
    content_type: str
    data: bytes | str  # as the body came or went: JSON or CSV text, or the bytes of a binary body

    def encoded(self) -> tuple[str, str]:
        """The data as a record holds it, and its encoding: text for JSON and CSV, base64 for anything else."""
        if self.content_type == "application/json" and type(self.data) is str:  # nearly every request and answer
            return self.data, _JSON
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
# Event ids: UUID-shaped, unique per record: a random prefix per process and a counter (a fresh uuid4 per record
# costs more than the rest of the record).
_ID_PREFIX = "{0[0]}-{0[1]}-{0[2]}-{0[3]}-".format((lambda h: (h[:8], h[8:12], h[12:16], h[16:20]))(uuid.uuid4().hex))
_ids = itertools.count()


def _event_id() -> str:
    return f"{_ID_PREFIX}{next(_ids):012x}"


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
    """One capture record as a JSON line (without its line end), cut to fit a log event.

    Written from a template: only the strings are encoded, which takes half the time of encoding the whole record
    (capture at 100 % writes one for every request)."""
    input_data, input_encoding = request.encoded()
    output_data, output_encoding = response.encoded()
    event_id, inference_time = _event_id(), _inference_time()
    line = _RECORD % (
        _content_type(request.content_type),
        _dumps(input_data),
        _ENCODINGS[input_encoding],
        _content_type(response.content_type),
        _dumps(output_data),
        _ENCODINGS[output_encoding],
        event_id.encode(),
        inference_time.encode(),
        b',"inferenceId":' + _dumps(inference_id) if inference_id else b"",
        _dumps(model),
        version,
        b"true" if shadow else b"false",
    )
    if len(line) <= MAX_RECORD_BYTES:
        return line
    metadata: dict[str, Any] = {"eventId": event_id, "inferenceTime": inference_time}
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
    return _truncated(body, len(line))


_dumps = orjson.dumps
_ENCODINGS = {name: name.encode() for name in (_JSON, _CSV, _BASE64)}
_JSON_TYPE = "application/json"
_JSON_TYPE_ENCODED = _dumps(_JSON_TYPE)


def _content_type(content_type: str) -> bytes:
    return _JSON_TYPE_ENCODED if content_type == _JSON_TYPE else _dumps(content_type)


_RECORD = (
    b'{"captureData":{"endpointInput":{"observedContentType":%b,"mode":"INPUT","data":%b,"encoding":"%b"},'
    b'"endpointOutput":{"observedContentType":%b,"mode":"OUTPUT","data":%b,"encoding":"%b"}},'
    b'"eventMetadata":{"eventId":"%b","inferenceTime":"%b"%b},"eventVersion":"0","model":%b,"version":"%d",'
    b'"shadow":%b}'
)


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
