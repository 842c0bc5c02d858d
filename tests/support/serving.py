"""Serving settings written as the loader publishes them, and a reader of captured records written from SageMaker
Data Capture's documented record format (not from this project's writer)."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lambdas.common.serving import PublishedSettings, settings_from_json, settings_path


def publish_settings(model_dir: Path, name: str, settings: dict[str, Any], *, history: tuple[int, ...] = ()) -> None:
    """Write ``models/NAME/serving.json`` as the loader does: the record, then an atomic rename."""
    record = PublishedSettings(
        settings=settings_from_json(settings),
        source_key=f"{name}/serving.json",
        etag="0" * 32,
        version_id=None,
        published_at="2026-12-04T00:00:00+00:00",
        sole_history=history,
    )
    path = settings_path(model_dir, name)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(".serving.json.tmp")
    temporary.write_bytes(record.to_json())
    temporary.replace(path)


@dataclass(frozen=True)
class CapturedSide:
    content_type: str
    mode: str
    encoding: str
    data: str

    def text(self) -> str:
        """The body as sent: JSON and CSV data are the text itself, BASE64 data the body's bytes encoded."""
        if self.encoding == "BASE64":
            return base64.b64decode(self.data).decode("utf-8", "replace")
        return self.data

    def json(self) -> Any:
        return json.loads(self.text())


@dataclass(frozen=True)
class CapturedRecord:
    endpoint_input: CapturedSide
    endpoint_output: CapturedSide
    event_id: str
    inference_time: str
    inference_id: str | None
    event_version: str
    model: str
    version: str
    shadow: bool
    truncated: bool


def _side(raw: dict[str, Any], mode: str) -> CapturedSide:
    assert set(raw) >= {"observedContentType", "mode", "data", "encoding"}, raw.keys()
    assert raw["mode"] == mode
    assert raw["encoding"] in ("CSV", "JSON", "BASE64")
    return CapturedSide(raw["observedContentType"], raw["mode"], raw["encoding"], raw["data"])


def read_record(line: str | bytes) -> CapturedRecord:
    """One JSON line in SageMaker's capture format: ``captureData`` holds ``endpointInput`` (mode INPUT) and
    ``endpointOutput`` (mode OUTPUT), ``eventMetadata`` holds ``eventId``, ``inferenceTime`` (ISO 8601, UTC) and
    optionally ``inferenceId``, and ``eventVersion`` is "0"."""
    raw = json.loads(line)
    capture = raw["captureData"]
    metadata = raw["eventMetadata"]
    assert raw["eventVersion"] == "0"
    assert metadata["inferenceTime"].endswith("Z") and "T" in metadata["inferenceTime"]
    return CapturedRecord(
        endpoint_input=_side(capture["endpointInput"], "INPUT"),
        endpoint_output=_side(capture["endpointOutput"], "OUTPUT"),
        event_id=metadata["eventId"],
        inference_time=metadata["inferenceTime"],
        inference_id=metadata.get("inferenceId"),
        event_version=raw["eventVersion"],
        model=raw["model"],
        version=raw["version"],
        shadow=raw["shadow"],
        truncated=bool(raw.get("truncated", False)),
    )


def captured_lines(output: str) -> list[CapturedRecord]:
    """The capture records among a function's output lines."""
    return [read_record(line) for line in output.splitlines() if line.startswith('{"captureData"')]


def metric_lines(output: str) -> list[dict[str, Any]]:
    """The per-model EMF lines among a function's output lines."""
    found = []
    for line in output.splitlines():
        if line.startswith('{"_aws"') and '"model"' in line:
            found.append(json.loads(line))
    return found
