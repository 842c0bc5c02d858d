"""Apply the records of one S3 event to the model directory, each on its own.

Every record gets an Outcome. One bad record never stops the others:

- rejected: not a model key, or not a readable record; nothing is written
- failed:   the object cannot become a model (corrupt, wrong format, checksum mismatch); a retry cannot help
- skipped:  a duplicate or older event than the last one applied to that key, an object overwritten or deleted
            since the event, or an event type the loader does not act on
- retry:    S3, the network or the file system failed; the caller raises so that Lambda retries the event

Ordering: per S3 key, the last applied ``sequencer`` is kept under ``$MODEL_DIR/state``; an event whose sequencer
is not newer is skipped. A removal leaves a tombstone, so a late PUT cannot bring a deleted model back. Events
without a sequencer (S3-compatible emulators) are checked against S3 instead: a PUT is applied only while its
object is still the current one, a removal only while the key is absent.

Keys under a version prefix that holds an MLflow model directory are not applied one by one: each makes the loader
compare the whole version with S3 (see ``directories``).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from enum import Enum
from pathlib import Path
from typing import Any

from botocore.exceptions import BotoCoreError

from lambdas.common.repository import (
    InvalidKey,
    ModelKey,
    SampleKey,
    parse_key,
    parse_sample_key,
    parse_settings_key,
    version_dir,
    version_prefix,
)
from lambdas.common.settings import Settings
from lambdas.loader import directories
from lambdas.loader.errors import PermanentFailure, Superseded, TransientFailure
from lambdas.loader.events import Action, EventShapeError, S3Record, compare_sequencers, iter_records, parse_record
from lambdas.loader.freshness import ensure_current, object_exists
from lambdas.loader.policy import PublishPolicy
from lambdas.loader.publish import publish_model, recheck_fast_path
from lambdas.loader.refusals import record_verdict
from lambdas.loader.removal import remove_model
from lambdas.loader.s3 import S3Reader
from lambdas.loader.serving import publish_settings, refuse_settings, remove_settings
from lambdas.loader.state import KeyState, LockTimeout, model_lock, read_key_state, write_key_state

DEFAULT_LOCK_TIMEOUT = 60.0


class Status(Enum):
    PUBLISHED = "published"
    DELETED = "deleted"
    SKIPPED = "skipped"
    REJECTED = "rejected"
    FAILED = "failed"
    RETRY = "retry"


@dataclass(frozen=True)
class Outcome:
    status: Status
    reason: str
    event_name: str | None = None
    bucket: str | None = None
    key: str | None = None
    model: str | None = None
    details: dict[str, Any] = field(default_factory=dict)
    error: BaseException | None = None
    duration_ms: float = 0.0

    def log_fields(self) -> dict[str, Any]:
        fields = {
            "status": self.status.value,
            "reason": self.reason,
            "event_name": self.event_name,
            "bucket": self.bucket,
            "key": self.key,
            "model": self.model,
            "duration_ms": round(self.duration_ms, 1),
            **self.details,
        }
        return {name: value for name, value in fields.items() if value is not None}


@dataclass
class Summary:
    outcomes: list[Outcome] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        return {status.value: sum(o.status is status for o in self.outcomes) for status in Status}

    @property
    def needs_retry(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.status is Status.RETRY]


def process_event(
    s3: S3Reader,
    event: Mapping[str, Any],
    settings: Settings,
    *,
    lock_timeout: float = DEFAULT_LOCK_TIMEOUT,
    report: Callable[[Outcome], None] | None = None,
) -> Summary:
    """Apply every record of ``event``; ``report`` sees each outcome as soon as it is known."""
    summary = Summary()
    for raw in iter_records(event):
        outcome = process_record(s3, raw, settings, lock_timeout=lock_timeout)
        summary.outcomes.append(outcome)
        if report is not None:
            report(outcome)
    return summary


def process_record(
    s3: S3Reader, raw: Mapping[str, Any], settings: Settings, *, lock_timeout: float = DEFAULT_LOCK_TIMEOUT
) -> Outcome:
    started = time.monotonic()
    outcome = _process(s3, raw, settings, lock_timeout)
    return _with_duration(outcome, started)


def _process(s3: S3Reader, raw: Mapping[str, Any], settings: Settings, lock_timeout: float) -> Outcome:
    try:
        record = parse_record(raw)
    except EventShapeError as error:
        return Outcome(Status.REJECTED, f"not an S3 notification record: {error}")
    obj = record.object
    where: dict[str, Any] = {"event_name": record.event_name, "bucket": obj.bucket, "key": obj.key}
    if record.action is Action.OTHER:
        return Outcome(Status.SKIPPED, "the loader acts on ObjectCreated and ObjectRemoved events only", **where)
    if settings.model_bucket is not None and obj.bucket != settings.model_bucket:
        return Outcome(
            Status.REJECTED, f"the loader serves bucket {settings.model_bucket!r} (MODEL_BUCKET) alone", **where
        )
    serving_of = parse_settings_key(obj.key, settings.model_prefix)
    if serving_of is not None:
        where["model"] = serving_of
        return _locked(
            settings, serving_of, lock_timeout, where, lambda: _apply_settings(s3, record, serving_of, settings, where)
        )
    prefixed = version_prefix(obj.key, settings.model_prefix)
    sample = parse_sample_key(obj.key, settings.model_prefix)
    target: ModelKey | None = None
    invalid: InvalidKey | None = None
    if sample is None:
        try:
            target = parse_key(obj.key, settings.model_prefix, settings.allowed_suffixes)
        except InvalidKey as error:
            if prefixed is None:
                return Outcome(Status.REJECTED, f"invalid model key: {error}", **where)
            invalid = error
    located = prefixed or sample or target
    assert located is not None
    where["model"] = f"{located.name}/{located.version}"

    def apply() -> Outcome:
        if prefixed is not None:
            applied = directories.reconcile(s3, obj.bucket, prefixed, settings)
            if applied is not None:
                status = _DIRECTORY_STATUS[applied.action]
                return Outcome(status, applied.reason, details=applied.details, **where)
            if invalid is not None:
                return Outcome(Status.REJECTED, f"invalid model key: {invalid}", **where)
        if sample is not None:
            return _sample(s3, record, sample, settings, where)
        assert target is not None
        return _apply(s3, record, target, settings, where)

    return _locked(settings, located.name, lock_timeout, where, apply)


def _locked(
    settings: Settings, name: str, lock_timeout: float, where: dict[str, Any], apply: Callable[[], Outcome]
) -> Outcome:
    """``apply`` under the model's lock; a failure of S3, the network, the file system or the lock is a retry."""
    try:
        with model_lock(settings.model_dir, name, lock_timeout):
            return apply()
    except (TransientFailure, LockTimeout, OSError, BotoCoreError) as error:
        return Outcome(Status.RETRY, f"{type(error).__name__}: {error}", error=error, **where)
    except Exception as error:  # an unforeseen fault: keep the event by retrying it rather than dropping it
        return Outcome(Status.RETRY, f"unexpected {type(error).__name__}: {error}", error=error, **where)


_DIRECTORY_STATUS = {
    "published": Status.PUBLISHED,
    "removed": Status.DELETED,
    "refused": Status.FAILED,
    "waiting": Status.SKIPPED,
    "unchanged": Status.SKIPPED,
}


def _out_of_order(record: S3Record, model_dir: Path, where: dict[str, Any]) -> Outcome | None:
    """A skip when the key's last applied event is this one or a newer one, else None."""
    obj = record.object
    last = read_key_state(model_dir, obj.bucket, obj.key) if obj.sequencer else None
    if obj.sequencer and last is not None:
        order = compare_sequencers(obj.sequencer, last.sequencer)
        if order == 0:
            return Outcome(Status.SKIPPED, "duplicate of the last applied event", **where)
        if order < 0:
            after = "a delete" if last.deleted else "an upload"
            return Outcome(Status.SKIPPED, f"older than the last applied event ({after})", **where)
    return None


def _remember(record: S3Record, model_dir: Path) -> None:
    obj = record.object
    if obj.sequencer:
        deleted = record.action is Action.REMOVED
        write_key_state(model_dir, obj.bucket, obj.key, KeyState(sequencer=obj.sequencer, deleted=deleted))


def _apply(s3: S3Reader, record: S3Record, target: ModelKey, settings: Settings, where: dict[str, Any]) -> Outcome:
    obj, model_dir = record.object, settings.model_dir
    skipped = _out_of_order(record, model_dir, where)
    if skipped is not None:
        return skipped
    try:
        if record.action is Action.CREATED:
            outcome = _publish(s3, record, target, settings, where)
        else:
            outcome = _remove(s3, record, target, model_dir, where)
            if record.removes_one_version and outcome.status is not Status.DELETED:
                # The key still has its current version in S3: no tombstone that would block its later events.
                return outcome
    except Superseded as error:
        return Outcome(Status.SKIPPED, f"superseded: {error}", **where)
    except PermanentFailure as error:
        outcome = Outcome(Status.FAILED, f"{type(error).__name__}: {error}", **where)
        if record.action is Action.CREATED:
            record_verdict(model_dir, target, obj.key, outcome.reason, sha256=error.sha256)
    _remember(record, model_dir)
    return outcome


def _apply_settings(s3: S3Reader, record: S3Record, name: str, settings: Settings, where: dict[str, Any]) -> Outcome:
    """A model's serving settings uploaded or deleted: published, refused with a verdict, or removed."""
    obj, model_dir = record.object, settings.model_dir
    skipped = _out_of_order(record, model_dir, where)
    if skipped is not None:
        return skipped
    try:
        if record.action is Action.CREATED:
            if not obj.sequencer:
                ensure_current(s3, obj)
            published = publish_settings(s3, obj, name, model_dir)
            details = {"settings": published.settings.to_json(), "rollback_version": published.rollback_version}
            outcome = Outcome(Status.PUBLISHED, "serving settings published", details=details, **where)
        else:
            if object_exists(s3, obj):  # this key, or its current version, is still in S3
                raise Superseded(f"{obj.key} exists in S3")
            removed = remove_settings(model_dir, name)
            outcome = Outcome(Status.DELETED if removed.published else Status.SKIPPED, removed.reason, **where)
    except Superseded as error:
        return Outcome(Status.SKIPPED, f"superseded: {error}", **where)
    except PermanentFailure as error:
        refuse_settings(model_dir, name, obj, str(error))
        outcome = Outcome(Status.FAILED, f"serving settings refused: {error}", **where)
    _remember(record, model_dir)
    return outcome


def _publish(s3: S3Reader, record: S3Record, target: ModelKey, settings: Settings, where: dict[str, Any]) -> Outcome:
    if not record.object.sequencer:
        ensure_current(s3, record.object)
    policy = PublishPolicy.from_settings(settings)
    published = publish_model(s3, record.object, target, settings.model_dir, policy, settings.model_version_policy)
    metadata = published.metadata
    details: dict[str, Any] = {
        "size": metadata.size,
        "sha256": metadata.sha256,
        "feature_count": metadata.feature_count,
        "estimator": metadata.validation.estimator,
        "fast_path": metadata.fast_path,
    }
    if published.stale_files_removed:
        details["stale_files_removed"] = published.stale_files_removed
    if metadata.validation.version_mismatch:
        details["version_mismatch"] = list(metadata.validation.version_mismatch)
    if metadata.validation.warnings:
        details["load_warnings"] = list(metadata.validation.warnings)
    return Outcome(Status.PUBLISHED, "published", details=details, **where)


def _remove(s3: S3Reader, record: S3Record, target: ModelKey, model_dir: Path, where: dict[str, Any]) -> Outcome:
    obj = record.object
    # S3 is asked, whatever the event says: a forged, stale or reordered removal never deletes a model S3 still holds.
    if record.removes_one_version:
        if object_exists(s3, obj, version_id=obj.version_id):
            raise Superseded(f"version {obj.version_id} of {obj.key} is still in S3")
    elif object_exists(s3, obj):
        raise Superseded(f"{obj.key} exists again in S3")
    only_version = obj.version_id if record.removes_one_version else None
    removed = remove_model(obj, target, model_dir, only_version_id=only_version)
    return Outcome(Status.DELETED if removed.removed else Status.SKIPPED, removed.reason, **where)


def _sample(s3: S3Reader, record: S3Record, sample: SampleKey, settings: Settings, where: dict[str, Any]) -> Outcome:
    """A probe sample arrived: check the published model's conversion again on it. Uploads in any order (the model
    first, then its sample) end as if the sample had come first."""
    if record.action is not Action.CREATED:
        return Outcome(Status.SKIPPED, "a probe sample is read when its model is published", **where)
    directory = version_dir(settings.model_dir, sample.name, sample.version)
    policy = PublishPolicy.from_settings(settings)
    try:
        checked = recheck_fast_path(s3, record.object, directory, policy, settings.allowed_suffixes)
    except Superseded as error:
        return Outcome(Status.SKIPPED, f"superseded: {error}", **where)
    except PermanentFailure as error:  # e.g. the published model no longer loads: a retry cannot help
        return Outcome(Status.FAILED, f"{type(error).__name__}: {error}", **where)
    if checked is None:
        return Outcome(Status.SKIPPED, "probe sample kept for when its model is published", **where)
    return Outcome(
        Status.PUBLISHED, "fast path checked again on the new sample", details={"fast_path": checked}, **where
    )


def _with_duration(outcome: Outcome, started: float) -> Outcome:
    return replace(outcome, duration_ms=(time.monotonic() - started) * 1000)
