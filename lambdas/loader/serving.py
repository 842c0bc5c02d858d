"""Publishing a model's serving settings (``<prefix>MODEL/serving.json``) as the loader publishes a model: read from
S3, checked, written atomically beside the model's versions; a refusal leaves a verdict and the old settings serve.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from lambdas.common.repository import list_versions, models_root
from lambdas.common.serving import (
    MAX_SETTINGS_BYTES,
    SOLE_HISTORY,
    PublishedSettings,
    ServingSettings,
    SettingsError,
    parse_settings,
    read_published,
    settings_path,
    settings_verdict_path,
)
from lambdas.common.verdicts import Verdict
from lambdas.loader.errors import PermanentFailure, Superseded
from lambdas.loader.events import ObjectRef
from lambdas.loader.files import fsync_dir, write_atomically
from lambdas.loader.freshness import etag
from lambdas.loader.s3 import S3Reader, call_s3


@dataclass(frozen=True)
class SettingsRemoved:
    published: bool  # whether settings were published until now
    reason: str


def publish_settings(s3: S3Reader, obj: ObjectRef, name: str, model_dir: Path) -> PublishedSettings:
    """Read ``obj``, check it against the versions published now, and publish it; PermanentFailure says why not."""
    data, head_etag, version_id = _read(s3, obj)
    try:
        settings = parse_settings(data)
    except SettingsError as error:
        raise PermanentFailure(str(error)) from None
    ready = list_versions(model_dir, name)
    _check_versions(settings, ready, name)
    previous = read_published(model_dir, name)
    published = PublishedSettings(
        settings=settings,
        source_key=obj.key,
        etag=head_etag,
        version_id=version_id,
        published_at=datetime.now(UTC).isoformat(),
        sole_history=_history(previous, settings, ready),
    )
    directory = models_root(model_dir) / name
    directory.mkdir(parents=True, exist_ok=True)
    write_atomically(settings_path(model_dir, name), published.to_json())
    settings_verdict_path(model_dir, name).unlink(missing_ok=True)
    fsync_dir(directory)
    return published


def refuse_settings(model_dir: Path, name: str, obj: ObjectRef, reason: str) -> None:
    """Leave the loader's reason for refusing these settings beside the model, for the API and the command line."""
    directory = models_root(model_dir) / name
    directory.mkdir(parents=True, exist_ok=True)
    verdict = Verdict(reason=reason, source_key=obj.key, refused_at=datetime.now(UTC).isoformat(), etag=etag(obj.etag))
    write_atomically(settings_verdict_path(model_dir, name), verdict.to_json())


def remove_settings(model_dir: Path, name: str) -> SettingsRemoved:
    """The settings key was deleted: the model's latest version serves all its traffic again."""
    path = settings_path(model_dir, name)
    existed = path.is_file()
    path.unlink(missing_ok=True)
    settings_verdict_path(model_dir, name).unlink(missing_ok=True)
    if path.parent.is_dir():
        fsync_dir(path.parent)
    return SettingsRemoved(existed, "serving settings removed" if existed else "no serving settings were published")


def _read(s3: S3Reader, obj: ObjectRef) -> tuple[bytes, str | None, str | None]:
    request = {"Bucket": obj.bucket, "Key": obj.key}
    if obj.version_id:
        request["VersionId"] = obj.version_id
    response = call_s3("GetObject", s3.get_object, **request)
    size = int(response.get("ContentLength") or 0)
    if size > MAX_SETTINGS_BYTES:
        raise PermanentFailure(f"serving.json is {size:,} bytes; at most {MAX_SETTINGS_BYTES:,} are read")
    body = response["Body"]
    try:
        data = body.read(MAX_SETTINGS_BYTES + 1)
    finally:
        body.close()
    found = etag(response.get("ETag")) or None
    if obj.etag and found and found != etag(obj.etag) and not obj.version_id:
        raise Superseded(f"{obj.key} was overwritten since this event")
    return data, found, response.get("VersionId") or obj.version_id


def _check_versions(settings: ServingSettings, ready: list[int], name: str) -> None:
    missing = [version for version in settings.versions if version not in ready]
    if missing:
        published = ", ".join(str(version) for version in ready) or "none"
        named = ", ".join(str(version) for version in missing)
        raise PermanentFailure(
            f"serving.json names version(s) {named} of {name!r}, which are not published and ready "
            f"(ready: {published}); the previous settings keep serving"
        )


def _history(previous: PublishedSettings | None, settings: ServingSettings, ready: list[int]) -> tuple[int, ...]:
    """The versions that had all the traffic, oldest first: before any settings, the latest version had it."""
    seed = [ready[-1]] if ready else []
    history = list(previous.sole_history) if previous is not None else seed
    sole = settings.sole_version
    if sole is not None and (not history or history[-1] != sole):
        history.append(sole)
    return tuple(history[-SOLE_HISTORY:])
