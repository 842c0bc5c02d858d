"""Whether an S3 event still describes S3: for events without a sequencer (S3-compatible emulators), the loader
asks S3 before it applies them, so a late event never publishes overwritten bytes or removes a key that is back."""

from __future__ import annotations

from typing import Any

from lambdas.loader.errors import ObjectGone, Superseded
from lambdas.loader.events import ObjectRef
from lambdas.loader.s3 import S3Reader, call_s3


def ensure_current(s3: S3Reader, obj: ObjectRef) -> None:
    """Raise Superseded unless the object the event names is still the current one in S3.

    Used for events without a sequencer (S3-compatible emulators): without it, a late event could otherwise
    publish bytes that have since been overwritten or deleted.
    """
    head = call_s3("HeadObject", s3.head_object, Bucket=obj.bucket, Key=obj.key)
    if obj.version_id and head.get("VersionId") not in (None, obj.version_id):
        raise Superseded(f"{obj.key} has a newer version than {obj.version_id}")
    if not obj.version_id and obj.etag and etag(head.get("ETag")) != etag(obj.etag):
        raise Superseded(f"{obj.key} was overwritten since this event")


def object_exists(s3: S3Reader, obj: ObjectRef, *, version_id: str | None = None) -> bool:
    """Whether S3 holds the key (its current version), or that one version of it."""
    request: dict[str, Any] = {"Bucket": obj.bucket, "Key": obj.key}
    if version_id:
        request["VersionId"] = version_id
    try:
        call_s3("HeadObject", s3.head_object, **request)
    except ObjectGone:
        return False
    return True


def etag(value: Any) -> str:
    return str(value or "").strip('"')
