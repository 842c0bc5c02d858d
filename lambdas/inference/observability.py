"""The inference function's structured logger and CloudWatch metrics (embedded metric format)."""

from __future__ import annotations

import logging
import os
import sys
import time

import orjson
from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

# Powertools' own variables, which Terraform sets per function, name the service and the namespace; these are the
# same names for a process started without them (tests, the benchmarks).
SERVICE = os.environ.get("POWERTOOLS_SERVICE_NAME") or "inference"
NAMESPACE = os.environ.get("POWERTOOLS_METRICS_NAMESPACE") or "ServerlessSklearn"

logger = Logger(service=SERVICE)
metrics = Metrics(namespace=NAMESPACE, service=SERVICE)
_request_id: str | None = None


class _RequestId(logging.Filter):
    """Stamps each log record with the current request's id. Most requests log nothing, so the id is attached when
    a record is made rather than to the logger's keys on every request."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = _request_id
        return True


logger.addFilter(_RequestId())


def set_request_id(request_id: str | None) -> None:
    global _request_id
    _request_id = request_id


def count(name: str) -> None:
    metrics.add_metric(name=name, unit=MetricUnit.Count, value=1)


def flush() -> None:
    """Write the metrics gathered during one invocation, if any, as one EMF line."""
    if metrics.metric_set:
        metrics.flush_metrics()
        # With metrics disabled (POWERTOOLS_METRICS_DISABLED) Powertools writes nothing and keeps the set, which
        # would then grow and be flushed again on every request.
        metrics.clear_metrics()


_METRICS_DISABLED = os.environ.get("POWERTOOLS_METRICS_DISABLED", "").strip().lower() in ("1", "true")
# Per model (and per version) figures, one EMF line per prediction: the dashboard's and the alarms' source.
_BY_MODEL = [["service", "model"], ["service", "model", "version"]]
_UNITS = {"Latency": "Milliseconds"}
_directives: dict[tuple[tuple[str, ...], bool], bytes] = {}


def _directive(names: tuple[str, ...], versioned: bool) -> bytes:
    """The EMF ``CloudWatchMetrics`` value for these metric names, written once per set of names."""
    key = (names, versioned)
    found = _directives.get(key)
    if found is None:
        found = orjson.dumps(
            [
                {
                    "Namespace": NAMESPACE,
                    "Dimensions": _BY_MODEL if versioned else _BY_MODEL[:1],
                    "Metrics": [{"Name": name, "Unit": _UNITS.get(name, "Count")} for name in names],
                }
            ]
        )
        _directives[key] = found
    return found


def model_metrics(model: str, version: int | None, values: dict[str, float]) -> bytes | None:
    """One EMF line (without its line end) of ``values`` for a model and, when known, the version that answered;
    None when metrics are off. Written on every prediction, so the constant part is built once."""
    if _METRICS_DISABLED:
        return None
    head = b'{"_aws":{"Timestamp":%d,"CloudWatchMetrics":%b},"service":%b,"model":%b' % (
        int(time.time() * 1000),
        _directive(tuple(values), version is not None),
        orjson.dumps(SERVICE),
        orjson.dumps(model),
    )
    if version is not None:
        head += b',"version":"%d"' % version
    return head + b"," + orjson.dumps(values)[1:]


def write_lines(lines: list[bytes]) -> None:
    """Write whole lines to the log stream at once (one write, so lines from one request stay together), past the
    text layer when the stream has a file descriptor, as a function's standard output does."""
    if not lines:
        return
    data = b"\n".join(lines) + b"\n"
    stream = sys.stdout
    try:
        descriptor = stream.fileno()
    except (AttributeError, OSError, ValueError):  # a stream in memory (tests): through its text layer
        stream.write(data.decode())
        stream.flush()
        return
    stream.flush()  # whatever the logger left in the buffer goes first
    view = memoryview(data)
    while view:
        view = view[os.write(descriptor, view) :]
