"""The inference function's log stream in the local stack, read line by line as CloudWatch Logs reads a function's:
capture records go to the capture delivery (the subscription filter's match), the per-model metric lines (embedded
metric format) become figures the stack keeps for an hour, as CloudWatch extracts them into metrics, and every other
line goes on to the stack's own output.

The kept figures answer ``serverless-sklearn status`` locally, through the gateway's ``/_local/metrics/NAME`` (a path
of the local stack alone; on AWS the command asks CloudWatch).
"""

from __future__ import annotations

import json
import math
import sys
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any, BinaryIO

from local_stack.delivery import CaptureDelivery, is_capture_record

WINDOW_SECONDS = 3600.0
COUNTED = ("Requests", "ClientErrors", "ServerErrors", "ShadowAgreement", "ShadowDisagreement", "ShadowFailed")
_METRIC_LINE = b'{"_aws":'
_UNREAD_LINES = 10_000


class LocalMetrics:
    """The last hour of per-model metric values, by model and version, summed or as latency percentiles.

    A line is kept as it came, with the time it came, and read only when a summary is asked for: reading a line of
    JSON for every request would cost the stack's process, and every request it serves, for figures seldom read."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._lines: deque[tuple[float, bytes]] = deque()
        self._values: deque[tuple[float, str, str | None, str, float]] = deque()
        self._lock = threading.Lock()

    def add(self, line: bytes) -> None:
        now = self._clock()
        with self._lock:
            self._lines.append((now, line))
            if len(self._lines) > _UNREAD_LINES:  # read now and then, so that unread lines never pile up
                self._read()

    def _read(self) -> None:
        while self._lines:
            when, line = self._lines.popleft()
            try:
                record = json.loads(line)
                directives = record["_aws"]["CloudWatchMetrics"]
                model = record["model"]
            except (ValueError, KeyError, TypeError):
                continue
            version = record.get("version")
            for directive in directives:
                for metric in directive.get("Metrics", ()):
                    value = record.get(metric.get("Name"))
                    if isinstance(value, int | float):
                        self._values.append((when, str(model), version, metric["Name"], float(value)))
        self._expire(self._clock())

    def summary(self, model: str) -> dict[str, dict[str, float]]:
        """Per version: each count summed, and Latency's p50 and p99 in milliseconds."""
        with self._lock:
            self._read()
            rows = [row for row in self._values if row[1] == model and row[2] is not None]
        figures: dict[str, dict[str, float]] = {}
        latencies: dict[str, list[float]] = {}
        for _, _, version, name, value in rows:
            assert version is not None
            if name == "Latency":
                latencies.setdefault(version, []).append(value)
            elif name in COUNTED:
                counts = figures.setdefault(version, {})
                counts[name] = counts.get(name, 0.0) + value
        for version, values in latencies.items():
            ordered = sorted(values)
            figures.setdefault(version, {}).update(
                LatencyP50=_percentile(ordered, 0.50), LatencyP99=_percentile(ordered, 0.99)
            )
        return figures

    def _expire(self, now: float) -> None:
        while self._values and self._values[0][0] < now - WINDOW_SECONDS:
            self._values.popleft()


def _percentile(ordered: list[float], share: float) -> float:
    """The nearest-rank percentile, as CloudWatch computes one over raw values."""
    rank = math.ceil(share * len(ordered))
    return ordered[max(0, min(len(ordered), rank) - 1)]


class FunctionLogs:
    """Where each line of the inference function's output goes."""

    def __init__(self, delivery: CaptureDelivery, metrics: LocalMetrics, forward: BinaryIO | None = None) -> None:
        self._delivery = delivery
        self._metrics = metrics
        self._forward = forward if forward is not None else sys.stdout.buffer
        self._lock = threading.Lock()

    def line(self, line: bytes) -> None:
        if is_capture_record(line):
            self._delivery.add(line)
        elif line.startswith(_METRIC_LINE) and b'"model":' in line:
            self._metrics.add(line)
        else:
            with self._lock:
                self._forward.write(line + b"\n")
                self._forward.flush()


def metrics_answer(metrics: LocalMetrics, path: str) -> dict[str, Any] | None:
    """The answer to ``GET /_local/metrics/NAME``, or None for any other path."""
    prefix = "/_local/metrics/"
    if not path.startswith(prefix):
        return None
    name = path[len(prefix) :].split("?", 1)[0]
    return {"model": name, "window_seconds": WINDOW_SECONDS, "versions": metrics.summary(name)}
