"""Publishing one S3 object as a model version, and removing it again.

A publish streams the object into a temporary file in the target version directory (memory stays flat whatever the
object's size), fsyncs it, checks its size and declared SHA-256, loads it as a model, writes ``metadata.json``
atomically and only then renames the file over ``model<suffix>``. Readers see the old model or the new one, never a
partial file; a model that fails any check is never published and the previous one keeps serving. With the ONNX fast
path on, the loaded model is also converted and checked, and ``model.onnx`` is put in place (or an old one removed)
just before the model file; see ``fast_path``.

Two keys can name the same version (``iris.joblib`` and ``iris.skops`` are both ``iris`` version 1, and so is
``iris/1/model.joblib``). A version directory holds one model: the one published last wins and replaces a model file
of another format. A removal only takes away the model that the removed key itself published, so deleting
``iris.joblib`` leaves a version that ``iris.skops`` has since replaced untouched.

The caller holds the model's lock (see ``state.model_lock``), so temporary files found in the directory belong to a
crashed run and are removed.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import importlib.metadata
import json
import os
import platform
import queue
import threading
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

from botocore.exceptions import BotoCoreError

from lambdas.common.models import ModelLoadError, check_estimator, load_model
from lambdas.common.repository import (
    METADATA_FILE,
    MODEL_FILES,
    ModelKey,
    find_model_file,
    read_metadata,
    sample_keys,
    version_dir,
)
from lambdas.common.signature import Signature
from lambdas.common.verdicts import VERDICT_FILE, Verdict, read_verdict
from lambdas.loader import fast_path, samples, signing
from lambdas.loader.errors import (
    ChecksumMismatch,
    ModelInvalid,
    ObjectGone,
    PermanentFailure,
    Superseded,
    TransientFailure,
)
from lambdas.loader.events import ObjectRef
from lambdas.loader.fast_path import FastPathPolicy
from lambdas.loader.files import fsync_dir, remove_temp_files, temp_path, write_all, write_atomically
from lambdas.loader.mlflow_model import MLflowModel
from lambdas.loader.s3 import S3Reader, call_s3
from lambdas.loader.samples import SampleError, SampleFile

CHUNK_BYTES = 1 << 20
_CHUNKS_IN_FLIGHT = 4
# Models at least this large are validated with their arrays memory-mapped rather than read into memory.
MEMORY_MAP_BYTES = 64 * 1024 * 1024
_LIBRARIES = ("scikit-learn", "numpy", "scipy", "joblib", "skops", "skl2onnx", "onnxruntime")


@dataclass(frozen=True)
class Published:
    path: Path
    metadata: dict[str, Any]
    stale_files_removed: list[str]


@dataclass(frozen=True)
class DirectoryOrigin:
    """A version that is more than its model file: an MLflow directory, published from its ``MLmodel``."""

    source_key: str  # the MLmodel key: removing it removes the version, and a refusal is recorded under it
    mlflow: MLflowModel
    sample: SampleFile | SampleError | None  # its input example
    fingerprint: str  # the S3 objects it was published from


@dataclass(frozen=True)
class Removed:
    removed: bool
    reason: str


def ensure_current(s3: S3Reader, obj: ObjectRef) -> None:
    """Raise Superseded unless the object the event names is still the current one in S3.

    Used for events without a sequencer (S3-compatible emulators): without it, a late event could otherwise
    publish bytes that have since been overwritten or deleted.
    """
    head = call_s3("HeadObject", s3.head_object, Bucket=obj.bucket, Key=obj.key)
    if obj.version_id and head.get("VersionId") not in (None, obj.version_id):
        raise Superseded(f"{obj.key} has a newer version than {obj.version_id}")
    if not obj.version_id and obj.etag and _etag(head.get("ETag")) != _etag(obj.etag):
        raise Superseded(f"{obj.key} was overwritten since this event")


def object_exists(s3: S3Reader, obj: ObjectRef) -> bool:
    try:
        call_s3("HeadObject", s3.head_object, Bucket=obj.bucket, Key=obj.key)
    except ObjectGone:
        return False
    return True


def _etag(value: Any) -> str:
    return str(value or "").strip('"')


def publish_model(
    s3: S3Reader,
    obj: ObjectRef,
    target: ModelKey,
    model_dir: Path,
    policy: FastPathPolicy = fast_path.OFF,
    version_policy: str = "serve",
    origin: DirectoryOrigin | None = None,
) -> Published:
    """Stream ``obj`` into ``model_dir`` as ``target`` and publish it atomically; see the module docstring.

    ``origin``: the MLflow directory ``obj`` belongs to; its MLmodel's signature, input example and versions count."""
    directory = version_dir(model_dir, target.name, target.version)
    directory.mkdir(parents=True, exist_ok=True)
    stale = remove_temp_files(directory)
    request: dict[str, Any] = {"Bucket": obj.bucket, "Key": obj.key, "ChecksumMode": "ENABLED"}
    if obj.version_id:
        request["VersionId"] = obj.version_id
    elif obj.etag:
        request["IfMatch"] = obj.etag
    response = call_s3("GetObject", s3.get_object, **request)
    final = directory / target.filename
    temp = temp_path(final)
    prepared = fast_path.Prepared(None, {})
    trusted = origin.mlflow.trusted_types if origin is not None else ()
    digest = b""
    try:
        size, digest = _download(response, temp)
        declared = _declared_sha256(response)
        if declared is not None and declared[1] != digest:
            raise ChecksumMismatch(
                f"SHA-256 from {declared[0]} is {declared[1].hex()}, the bytes read hash to {digest.hex()}"
            )
        model, feature_count, validation = _validate(temp, memory_map=size >= MEMORY_MAP_BYTES, trusted=trusted)
        if origin is not None:
            sample = origin.sample
            validation["trained_with_sklearn"] = validation["trained_with_sklearn"] or origin.mlflow.sklearn_version
            declared_types = origin.mlflow.column_datatypes
            default_output = origin.mlflow.predict_fn
        else:
            sample = _fetch_sample(s3, obj.bucket, obj.key, target)
            declared_types, default_output = None, "predict"
        signed = _sign(model, sample, validation, declared_types, default_output)
        _apply_version_policy(signed.signature, validation, version_policy)
        user_metadata = response.get("Metadata") or {}
        prepared = fast_path.prepare(
            model, feature_count, size, user_metadata, directory, policy, sample, signed.signature.inputs
        )
        del model
        metadata = {
            "name": target.name,
            "version": target.version,
            "format": target.suffix.lstrip("."),
            "file": target.filename,
            "source_bucket": obj.bucket,
            "source_key": origin.source_key if origin is not None else obj.key,
            "model_key": obj.key,
            "version_id": response.get("VersionId") or obj.version_id,
            "etag": _etag(response.get("ETag") or obj.etag),
            "sequencer": obj.sequencer,
            "event_time": obj.event_time,
            "size": size,
            "sha256": digest.hex(),
            "sha256_verified_against": declared[0] if declared else None,
            "libraries": library_versions(),
            "feature_count": feature_count,
            "validation": validation,
            "signature": signed.signature.to_dict(),
            "fast_path": prepared.record,
            "published_at": datetime.now(UTC).isoformat(),
        }
        if origin is not None:
            metadata["mlflow"] = {**origin.mlflow.record(), "fingerprint": origin.fingerprint}
            metadata["trusted_types"] = list(trusted)
        # Metadata first: a reader that loads the old model with the new metadata sees the model file change next
        # and reloads; the other order could pair a new model with stale metadata for good.
        write_atomically(directory / METADATA_FILE, _json(metadata))
        fast_path.install(directory, prepared)
        temp.replace(final)
        for other in MODEL_FILES:
            if other != target.filename:
                (directory / other).unlink(missing_ok=True)
        (directory / VERDICT_FILE).unlink(missing_ok=True)  # a good upload replaces an earlier refusal
        fsync_dir(directory)
    except PermanentFailure as error:
        error.sha256 = digest.hex() or None  # lets a client tell the refusal of its upload from an earlier one
        raise
    finally:
        temp.unlink(missing_ok=True)
        if prepared.temp is not None:
            prepared.temp.unlink(missing_ok=True)
    return Published(path=final, metadata=metadata, stale_files_removed=stale)


def recheck_fast_path(
    s3: S3Reader, sample_object: ObjectRef, directory: Path, policy: FastPathPolicy, allowed_suffixes: frozenset[str]
) -> dict[str, Any] | None:
    """Convert a published model again now that its probe sample is in S3; None when no published model of that
    version reads this sample (the model is not there yet, or came from a key whose sample lies elsewhere)."""
    metadata = read_metadata(directory)
    model_file = find_model_file(directory, allowed_suffixes)
    if metadata is None or model_file is None or model_file.name != metadata.get("file"):
        return None
    if metadata.get("mlflow") is not None:  # an MLflow directory's probe rows are its input example
        return None
    target = ModelKey(name=directory.parent.name, version=int(directory.name), suffix=model_file.suffix)
    source_key = metadata.get("source_key")
    if metadata.get("source_bucket") != sample_object.bucket or not isinstance(source_key, str):
        return None
    if sample_object.key not in sample_keys(source_key, target):
        return None
    # The model object's own metadata may turn the fast path off; the model object may also be gone meanwhile.
    head_request: dict[str, Any] = {"Bucket": sample_object.bucket, "Key": source_key}
    if metadata.get("version_id"):
        head_request["VersionId"] = metadata["version_id"]
    try:
        head = call_s3("HeadObject", s3.head_object, **head_request)
    except ObjectGone:
        raise Superseded(f"{source_key} is no longer in S3") from None
    remove_temp_files(directory)
    size = model_file.stat().st_size
    model, feature_count, validation = _validate(model_file, memory_map=size >= MEMORY_MAP_BYTES)
    sample = _fetch_sample(s3, sample_object.bucket, source_key, target)
    signed = _sign(model, sample, validation)
    prepared = fast_path.prepare(
        model,
        feature_count,
        size,
        head.get("Metadata") or {},
        directory,
        policy,
        sample,
        signed.signature.inputs,
    )
    del model
    try:
        updated = {**metadata, "validation": validation, "signature": signed.signature.to_dict()}
        write_atomically(directory / METADATA_FILE, _json({**updated, "fast_path": prepared.record}))
        fast_path.install(directory, prepared)
        fsync_dir(directory)
    finally:
        if prepared.temp is not None:
            prepared.temp.unlink(missing_ok=True)
    return prepared.record


def _fetch_sample(s3: S3Reader, bucket: str, key: str, target: ModelKey) -> SampleFile | SampleError | None:
    try:
        return samples.fetch(s3, bucket, key, target)
    except SampleError as error:
        return error


def _sign(
    model: Any,
    sample: SampleFile | SampleError | None,
    validation: dict[str, Any],
    declared_types: dict[str, str | None] | None = None,
    default_output: str = "predict",
) -> signing.Signed:
    """Sign the model in its serving form; the result goes into ``validation`` too."""
    parsed = None
    note = None
    if isinstance(sample, SampleError):
        note = str(sample)
    elif sample is not None:
        try:
            parsed = samples.parse(sample)
        except SampleError as error:
            note = str(error)
    signed = signing.sign(
        model,
        parsed,
        validation.get("trained_with_sklearn"),
        declared_types=declared_types,
        default_output=default_output,
    )
    validation["serving_check"] = {
        "checked_on": signed.checked_on,
        "expected_answers": signed.expected_answers,
        "notes": [note, *signed.notes] if note else list(signed.notes),
    }
    return signed


def _apply_version_policy(signature: Signature, validation: dict[str, Any], version_policy: str) -> None:
    """Record the versions the model was saved with beside those serving it; under ``reject``, refuse a model
    saved by another minor version (MODEL_VERSION_POLICY)."""
    provenance = signature.provenance
    if provenance is None:
        return
    validation["trained_with_sklearn"] = provenance.trained_with.get("scikit-learn")
    mismatches = provenance.mismatches()
    validation["version_mismatch"] = list(mismatches)
    if mismatches and version_policy == "reject":
        raise ModelInvalid(
            f"the model was saved with {', '.join(mismatches)}; MODEL_VERSION_POLICY=reject refuses a model saved "
            "by another minor version than the one serving it"
        )


def _download(response: dict[str, Any], temp: Path) -> tuple[int, bytes]:
    """Copy the response body into ``temp``, fsync it; return its size and SHA-256.

    Receiving and hashing-plus-writing run in two threads joined by a short queue: each releases the GIL for its
    heavy part, so they overlap, and at most ``_CHUNKS_IN_FLIGHT`` chunks are held in memory at a time.
    """
    body = response["Body"]
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o640)
    writer = _ChunkWriter(fd)
    size = 0
    try:
        try:
            writer.start()
            for chunk in _chunks(body):
                writer.put(chunk)
                size += len(chunk)
        finally:
            writer.finish()
            os.close(fd)
    finally:
        body.close()
    expected = response.get("ContentLength")
    if isinstance(expected, int) and size != expected:
        raise TransientFailure(f"download ended after {size} of {expected} bytes")
    return size, writer.digest


class _ChunkWriter:
    """Hashes and writes chunks in a thread of its own, then fsyncs; its first error is raised to the caller."""

    def __init__(self, fd: int) -> None:
        self._fd = fd
        self._hasher = hashlib.sha256()
        self._queue: queue.Queue[bytes | None] = queue.Queue(maxsize=_CHUNKS_IN_FLIGHT)
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="model-writer", daemon=True)

    @property
    def digest(self) -> bytes:
        return self._hasher.digest()

    def start(self) -> None:
        self._thread.start()

    def put(self, chunk: bytes) -> None:
        self._raise_error()
        self._queue.put(chunk)

    def finish(self) -> None:
        """Wait until every chunk is written and synced; raise the writer's error, if any."""
        if self._thread.is_alive():
            self._queue.put(None)
            self._thread.join()
        self._raise_error()

    def _raise_error(self) -> None:
        if self._error is not None:
            raise self._error

    def _run(self) -> None:
        try:
            while (chunk := self._queue.get()) is not None:
                self._hasher.update(chunk)
                write_all(self._fd, chunk)
            os.fsync(self._fd)
        except BaseException as error:  # handed to the caller, which decides what it means
            self._error = error
            while self._queue.get() is not None:  # let the receiving side finish putting
                continue


def _chunks(body: Any) -> Iterator[bytes]:
    try:
        yield from body.iter_chunks(CHUNK_BYTES)
    except BotoCoreError as error:
        raise TransientFailure(f"reading the object failed: {type(error).__name__}: {error}") from error


def _declared_sha256(response: dict[str, Any]) -> tuple[str, bytes] | None:
    """The SHA-256 the object declares: its full-object S3 checksum, else its ``sha256`` user metadata."""
    checksum = response.get("ChecksumSHA256")
    # A multipart upload's composite checksum ("...-<parts>") is a hash of part hashes: not comparable.
    if isinstance(checksum, str) and "-" not in checksum and response.get("ChecksumType") != "COMPOSITE":
        try:
            raw = base64.b64decode(checksum, validate=True)
        except binascii.Error:
            raw = b""
        if len(raw) == hashlib.sha256().digest_size:
            return "ChecksumSHA256", raw
    declared = (response.get("Metadata") or {}).get("sha256")
    if not isinstance(declared, str) or not declared.strip():
        return None
    return "sha256 metadata", _parse_digest(declared.strip())


def _parse_digest(text: str) -> bytes:
    try:
        raw = bytes.fromhex(text) if len(text) == 64 else base64.b64decode(text, validate=True)
    except ValueError:
        raw = b""
    if len(raw) != hashlib.sha256().digest_size:
        raise PermanentFailure(f"sha256 metadata {text[:80]!r} is neither a hex nor a base64 SHA-256 digest")
    return raw


def _validate(
    path: Path, *, memory_map: bool = False, trusted: tuple[str, ...] = ()
) -> tuple[Any, int | None, dict[str, Any]]:
    """Load the file as the inference function will; raise ModelInvalid with the reason when it cannot serve."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            model = load_model(path, memory_map=memory_map, trusted=trusted)
            feature_count = check_estimator(model)
        except ModelLoadError as error:
            raise ModelInvalid(str(error).replace(path.name, "model file")) from error
    model_type = type(model)
    # A compressed file cannot be memory-mapped and loads as usual: that notice is about this check, not the model.
    notes = {f"{w.category.__name__}: {w.message}" for w in caught if "mmap_mode" not in str(w.message)}
    return (
        model,
        feature_count,
        {
            "result": "loaded",
            "estimator": f"{model_type.__module__}.{model_type.__qualname__}",
            "trained_with_sklearn": _trained_with_sklearn(caught),
            # e.g. scikit-learn's InconsistentVersionWarning when the model was saved by another version
            "warnings": sorted(notes)[:20],
        },
    )


def _trained_with_sklearn(caught: list[warnings.WarningMessage]) -> str | None:
    """The scikit-learn version that saved the model: unpickling under another version warns with it (scikit-learn
    keeps it in the pickle and removes it from the object on load); no warning means this version saved it."""
    for warning in caught:
        original = getattr(warning.message, "original_sklearn_version", None)
        if isinstance(original, str):
            return original
    return None


@cache
def library_versions() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for name in _LIBRARIES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            continue
    return versions


def _json(data: dict[str, Any]) -> bytes:
    return json.dumps(data, indent=2, sort_keys=True).encode()


def remove_model(obj: ObjectRef, target: ModelKey, model_dir: Path, *, only_version_id: str | None = None) -> Removed:
    """Remove the model that ``obj`` published as ``target``; drop the version directory once it holds no model.

    ``only_version_id``: for the permanent delete of one S3 object version, remove the model only when it was
    published from that version.
    """
    directory = version_dir(model_dir, target.name, target.version)
    if not directory.is_dir():
        return Removed(False, "version is not published")
    remove_temp_files(directory)
    metadata = read_metadata(directory)
    if metadata is not None:
        if (metadata.get("source_bucket"), metadata.get("source_key")) != (obj.bucket, obj.key):
            return Removed(False, f"version is published from another key: {metadata.get('source_key')!r}")
        if only_version_id and metadata.get("version_id") not in (None, only_version_id):
            return Removed(False, "the removed S3 version is not the published one")
    model_file = directory / target.filename
    existed = model_file.is_file()
    verdict = read_verdict(directory)
    refused = verdict is not None and verdict.source_key == obj.key
    if refused:
        (directory / VERDICT_FILE).unlink(missing_ok=True)
    fast_path.remove(directory)
    model_file.unlink(missing_ok=True)
    if find_model_file(directory) is None:
        (directory / METADATA_FILE).unlink(missing_ok=True)
        _remove_empty_dir(directory)
        _remove_empty_dir(directory.parent)
        fsync_dir(directory.parent.parent if not directory.parent.exists() else directory.parent)
    else:
        fsync_dir(directory)
    if refused and not existed:
        return Removed(True, "removed the loader's verdict on the refused upload")
    return Removed(existed, "removed" if existed else "model file was already gone")


def record_verdict(
    model_dir: Path,
    target: ModelKey,
    key: str,
    reason: str,
    *,
    sha256: str | None = None,
    fingerprint: str | None = None,
) -> None:
    """Leave the loader's reason for refusing ``key`` in its version directory, for the API to show."""
    directory = version_dir(model_dir, target.name, target.version)
    directory.mkdir(parents=True, exist_ok=True)
    verdict = Verdict(
        reason=reason,
        source_key=key,
        refused_at=datetime.now(UTC).isoformat(),
        sha256=sha256,
        fingerprint=fingerprint,
    )
    write_atomically(directory / VERDICT_FILE, verdict.to_json())
    fsync_dir(directory)


def _remove_empty_dir(directory: Path) -> None:
    try:
        directory.rmdir()
    except FileNotFoundError:
        return
    except OSError:
        # Not empty: a file the loader does not own, or another version of the model.
        return
