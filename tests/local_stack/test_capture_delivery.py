"""The local stack's capture path: capture lines taken from the function's output into the data bucket, partitioned
by model, version and hour; every other line passed on; nothing dropped when a write fails or the stack stops."""

from __future__ import annotations

import io
import json
from typing import Any

from local_stack.delivery import CaptureDelivery, partition_prefix
from local_stack.logs import FunctionLogs, LocalMetrics


def capture_line(model: str = "iris", version: str = "3", when: str = "2026-12-04T01:02:03Z") -> bytes:
    record = {
        "captureData": {"endpointInput": {}, "endpointOutput": {}},
        "eventMetadata": {"eventId": "e", "inferenceTime": when},
        "eventVersion": "0",
        "model": model,
        "version": version,
        "shadow": False,
    }
    return json.dumps(record, separators=(",", ":")).encode()


class Bucket:
    def __init__(self, failures: int = 0) -> None:
        self.objects: dict[str, bytes] = {}
        self._failures = failures

    def put_object(self, **request: Any) -> None:
        if self._failures:
            self._failures -= 1
            raise ConnectionError("S3 is restarting")
        self.objects[request["Key"]] = request["Body"]


def test_records_are_partitioned_by_model_version_and_hour() -> None:
    assert partition_prefix(json.loads(capture_line())) == "capture/iris/3/2026/12/04/01/"
    assert partition_prefix(json.loads(capture_line(model="../etc"))) == "capture-errors/"
    assert partition_prefix(json.loads(capture_line(when="yesterday"))) == "capture-errors/"


def test_capture_lines_go_to_the_bucket_and_other_lines_are_passed_on() -> None:
    bucket, output = Bucket(), io.BytesIO()
    delivery = CaptureDelivery(bucket.put_object, "data")
    logs = FunctionLogs(delivery, LocalMetrics(), forward=output)

    logs.line(b'{"level":"INFO","message":"request rejected"}')
    for version in ("3", "3", "4"):
        logs.line(capture_line(version=version))
    delivery.flush()

    assert output.getvalue() == b'{"level":"INFO","message":"request rejected"}\n'
    by_prefix = {key.rsplit("/", 1)[0]: body.count(b"\n") for key, body in bucket.objects.items()}
    assert by_prefix == {"capture/iris/3/2026/12/04/01": 2, "capture/iris/4/2026/12/04/01": 1}


def test_a_failed_write_keeps_its_records_and_stopping_delivers_them() -> None:
    bucket = Bucket(failures=1)
    delivery = CaptureDelivery(bucket.put_object, "data", interval=3600)
    delivery.start()
    for _ in range(5):
        delivery.add(capture_line())
    delivery.flush()  # fails: kept
    assert bucket.objects == {}

    delivery.stop()

    assert sum(body.count(b"\n") for body in bucket.objects.values()) == 5 == delivery.delivered


def test_metric_lines_become_the_last_hours_figures_per_version() -> None:
    from lambdas.inference.observability import model_metrics

    now = [1_000_000.0]
    metrics = LocalMetrics(clock=lambda: now[0])
    logs = FunctionLogs(CaptureDelivery(Bucket().put_object, "data"), metrics, forward=io.BytesIO())
    for latency in range(1, 101):
        logs.line(model_metrics("iris", 3, {"Requests": 1, "Latency": float(latency)}) or b"")
    logs.line(model_metrics("iris", 4, {"ShadowDisagreement": 1}) or b"")
    logs.line(model_metrics("iris", 3, {"Requests": 1, "ServerErrors": 1}) or b"")

    figures = metrics.summary("iris")
    assert figures["3"] == {"Requests": 101, "ServerErrors": 1, "LatencyP50": 50.0, "LatencyP99": 99.0}
    assert figures["4"] == {"ShadowDisagreement": 1}
    now[0] += 3601
    assert metrics.summary("iris") == {}
