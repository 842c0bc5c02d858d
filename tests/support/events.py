"""Recorded events (tests/events) and the S3 records built from them: ``load_event(name)`` reads one, the builders
fill the S3 shapes in."""

from __future__ import annotations

import copy
import json
from typing import Any
from urllib.parse import quote_plus

from tests.support.paths import EVENTS


def load_event(name: str) -> dict[str, Any]:
    """A recorded event by file name, with or without ``.json``; a fresh copy every call."""
    filename = name if name.endswith(".json") else f"{name}.json"
    event: dict[str, Any] = json.loads((EVENTS / filename).read_text(encoding="utf-8"))
    return event


def s3_record(
    event_name: str,
    key: str,
    *,
    bucket: str = "models",
    version_id: str | None = None,
    etag: str | None = None,
    size: int | None = None,
    sequencer: str | None = None,
    encoded: bool = False,
) -> dict[str, Any]:
    """One record in the real S3 shape; the key is URL-encoded as S3 sends it unless ``encoded`` says it is."""
    template = "s3_delete" if event_name.startswith("ObjectRemoved:") else "s3_put"
    record: dict[str, Any] = copy.deepcopy(load_event(template)["Records"][0])
    record["eventName"] = event_name
    record["s3"]["bucket"]["name"] = bucket
    record["s3"]["bucket"]["arn"] = f"arn:aws:s3:::{bucket}"
    obj: dict[str, Any] = {"key": key if encoded else quote_plus(key)}
    if size is not None:
        obj["size"] = size
    if etag is not None:
        obj["eTag"] = etag.strip('"')
    if version_id is not None:
        obj["versionId"] = version_id
    if sequencer is not None:
        obj["sequencer"] = sequencer
    record["s3"]["object"] = obj
    return record


def s3_event(*records: dict[str, Any]) -> dict[str, Any]:
    return {"Records": list(records)}
