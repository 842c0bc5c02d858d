"""S3 event notification records, as S3 delivers them directly or wrapped in SQS or SNS messages."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Any
from urllib.parse import unquote_plus

_HEX = re.compile(r"[0-9A-Fa-f]+")


class EventShapeError(ValueError):
    """A record that is not a readable S3 notification record."""


class Action(Enum):
    CREATED = "created"
    REMOVED = "removed"
    OTHER = "other"


@dataclass(frozen=True)
class ObjectRef:
    """One S3 object as a record names it; ``key`` is already URL-decoded."""

    bucket: str
    key: str
    version_id: str | None = None
    etag: str | None = None
    sequencer: str | None = None
    event_time: str | None = None


@dataclass(frozen=True)
class S3Record:
    event_name: str
    action: Action
    object: ObjectRef
    raw_key: str

    @property
    def removes_one_version(self) -> bool:
        """A permanent delete of one object version in a versioned bucket (not a delete marker)."""
        return self.action is Action.REMOVED and "DeleteMarker" not in self.event_name and bool(self.object.version_id)


def iter_records(event: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
    """Every S3 record of an event, unwrapping SQS and SNS envelopes; S3 test events hold none."""
    records = event.get("Records")
    if not isinstance(records, list):
        return
    for record in records:
        if not isinstance(record, Mapping):
            yield {}
            continue
        source = record.get("eventSource") or record.get("EventSource")
        if source == "aws:sqs":
            yield from _unwrap(record.get("body"))
        elif source == "aws:sns":
            sns = record.get("Sns")
            yield from _unwrap(sns.get("Message") if isinstance(sns, Mapping) else None)
        else:
            yield record


def _unwrap(body: Any) -> Iterator[Mapping[str, Any]]:
    try:
        inner = json.loads(body) if isinstance(body, str) else None
    except ValueError:
        inner = None
    if not isinstance(inner, Mapping):
        yield {}
        return
    yield from iter_records(inner)


def parse_record(record: Mapping[str, Any]) -> S3Record:
    """Read the fields the loader uses from one S3 notification record."""
    name = record.get("eventName")
    s3 = record.get("s3")
    if not isinstance(name, str) or not isinstance(s3, Mapping):
        raise EventShapeError("record has no eventName or s3 section")
    bucket = s3.get("bucket")
    obj = s3.get("object")
    if not isinstance(bucket, Mapping) or not isinstance(obj, Mapping):
        raise EventShapeError("record has no s3.bucket or s3.object")
    bucket_name = bucket.get("name")
    raw_key = obj.get("key")
    if not isinstance(bucket_name, str) or not bucket_name or not isinstance(raw_key, str):
        raise EventShapeError("record has no bucket name or object key")
    if name.startswith("ObjectCreated:"):
        action = Action.CREATED
    elif name.startswith("ObjectRemoved:"):
        action = Action.REMOVED
    else:
        action = Action.OTHER
    version_id = _optional_str(obj.get("versionId"))
    sequencer = _optional_str(obj.get("sequencer"))
    return S3Record(
        event_name=name,
        action=action,
        raw_key=raw_key,
        object=ObjectRef(
            bucket=bucket_name,
            key=unquote_plus(raw_key),
            # Unversioned buckets report no version id, or the literal "null" for objects written while suspended.
            version_id=version_id if version_id and version_id != "null" else None,
            etag=_optional_str(obj.get("eTag")),
            sequencer=sequencer.upper() if sequencer and _HEX.fullmatch(sequencer) else None,
            event_time=_optional_str(record.get("eventTime")),
        ),
    )


def _optional_str(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def compare_sequencers(left: str, right: str) -> int:
    """-1, 0 or 1 as ``left`` is older than, the same event as, or newer than ``right`` (same object key only).

    S3 sequencers are hexadecimal strings of varying length; AWS documents comparing them by right-padding the
    shorter one with zeros and then comparing the strings.
    """
    width = max(len(left), len(right))
    a, b = left.upper().ljust(width, "0"), right.upper().ljust(width, "0")
    return (a > b) - (a < b)
