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

from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from lambdas.common.metadata import METADATA_FILE, MetadataError, VersionMetadata, read_metadata
from lambdas.common.repository import MODEL_FILES, ModelKey, find_model_file, sample_keys, version_dir
from lambdas.common.verdicts import VERDICT_FILE
from lambdas.loader import fast_path, samples
from lambdas.loader.checksums import verify_declared_sha256
from lambdas.loader.download import download
from lambdas.loader.errors import ModelInvalid, ObjectGone, PermanentFailure, Superseded
from lambdas.loader.events import ObjectRef
from lambdas.loader.files import fsync_dir, remove_temp_files, temp_path, write_atomically
from lambdas.loader.freshness import etag
from lambdas.loader.mlflow_model import MLflowModel
from lambdas.loader.policy import OFF, PublishPolicy
from lambdas.loader.s3 import S3Reader, call_s3
from lambdas.loader.samples import SampleError, SampleFile
from lambdas.loader.validation import apply_version_policy, library_versions, load_checked, sign


@dataclass(frozen=True)
class Published:
    path: Path
    metadata: VersionMetadata
    stale_files_removed: list[str]


@dataclass(frozen=True)
class DirectoryOrigin:
    """A version that is more than its model file: an MLflow directory, published from its ``MLmodel``."""

    source_key: str  # the MLmodel key: removing it removes the version, and a refusal is recorded under it
    mlflow: MLflowModel
    sample: SampleFile | SampleError | None  # its input example
    fingerprint: str  # the S3 objects it was published from


def publish_model(
    s3: S3Reader,
    obj: ObjectRef,
    target: ModelKey,
    model_dir: Path,
    policy: PublishPolicy = OFF,
    version_policy: str = "serve",
    origin: DirectoryOrigin | None = None,
) -> Published:
    """Stream ``obj`` into ``model_dir`` as ``target`` and publish it atomically; see the module docstring.

    ``origin``: the MLflow directory ``obj`` belongs to; its MLmodel's signature, input example and versions count."""
    directory = version_dir(model_dir, target.name, target.version)
    directory.mkdir(parents=True, exist_ok=True)
    stale = remove_temp_files(directory)
    response = _get_object(s3, obj)
    _refuse_oversized(response, policy)
    final = directory / target.filename
    temp = temp_path(final)
    prepared = fast_path.Prepared(None, {})
    digest = b""
    try:
        size, digest = download(response, temp)
        verified_against = verify_declared_sha256(response, digest)
        metadata, prepared = _check(s3, obj, target, temp, response, policy, version_policy, origin)
        metadata = replace(metadata, size=size, sha256=digest.hex(), sha256_verified_against=verified_against)
        # Metadata first: a reader that loads the old model with the new metadata sees the model file change next
        # and reloads; the other order could pair a new model with stale metadata for good.
        write_atomically(directory / METADATA_FILE, metadata.to_json())
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


def _get_object(s3: S3Reader, obj: ObjectRef) -> dict[str, Any]:
    """The object the event names, exactly that version (or that ETag, where S3 keeps no versions)."""
    request: dict[str, Any] = {"Bucket": obj.bucket, "Key": obj.key, "ChecksumMode": "ENABLED"}
    if obj.version_id:
        request["VersionId"] = obj.version_id
    elif obj.etag:
        request["IfMatch"] = obj.etag
    response: dict[str, Any] = call_s3("GetObject", s3.get_object, **request)
    return response


def _refuse_oversized(response: dict[str, Any], policy: PublishPolicy) -> None:
    """Refuse an object larger than the deployment allows before a byte of it is read."""
    length, limit = response.get("ContentLength"), policy.max_upload_bytes
    if limit is not None and isinstance(length, int) and length > limit:
        response["Body"].close()
        raise ModelInvalid(
            f"the model file is {length:,} bytes, more than this deployment's max_model_bytes (MAX_MODEL_BYTES) "
            f"of {limit:,}"
        )


def _check(
    s3: S3Reader,
    obj: ObjectRef,
    target: ModelKey,
    temp: Path,
    response: dict[str, Any],
    policy: PublishPolicy,
    version_policy: str,
    origin: DirectoryOrigin | None,
) -> tuple[VersionMetadata, fast_path.Prepared]:
    """Load, sign and convert the downloaded file; its record, less what the download itself tells."""
    loaded = load_checked(temp, trusted=policy.trusted_types)
    if origin is not None:
        sample = origin.sample
        trained = loaded.validation.trained_with_sklearn or origin.mlflow.sklearn_version
        loaded = replace(loaded, validation=replace(loaded.validation, trained_with_sklearn=trained))
        signature, validation = sign(loaded, sample, origin.mlflow.declared, origin.mlflow.predict_fn)
    else:
        sample = _fetch_sample(s3, obj.bucket, obj.key, target)
        signature, validation = sign(loaded, sample)
    validation = apply_version_policy(signature, validation, version_policy)
    size = temp.stat().st_size
    directory = temp.parent
    user_metadata = response.get("Metadata") or {}
    prepared = fast_path.prepare(
        loaded.model, loaded.feature_count, size, user_metadata, directory, policy, sample, signature.inputs
    )
    metadata = VersionMetadata(
        name=target.name,
        version=target.version,
        file=target.filename,
        source_bucket=obj.bucket,
        source_key=origin.source_key if origin is not None else obj.key,
        model_key=obj.key,
        size=size,
        sha256="",
        signature=signature,
        validation=validation,
        version_id=response.get("VersionId") or obj.version_id,
        etag=etag(response.get("ETag") or obj.etag),
        sequencer=obj.sequencer,
        event_time=obj.event_time,
        feature_count=loaded.feature_count,
        libraries=library_versions(),
        fast_path=prepared.record,
        mlflow={**origin.mlflow.record(), "fingerprint": origin.fingerprint} if origin is not None else None,
        published_at=datetime.now(UTC).isoformat(),
    )
    return metadata, prepared


def recheck_fast_path(
    s3: S3Reader, sample_object: ObjectRef, directory: Path, policy: PublishPolicy, allowed_suffixes: frozenset[str]
) -> dict[str, Any] | None:
    """Convert a published model again now that its probe sample is in S3; None when no published model of that
    version reads this sample (the model is not there yet, or came from a key whose sample lies elsewhere)."""
    try:
        metadata = read_metadata(directory)
    except MetadataError as error:
        raise PermanentFailure(f"the published version's record: {error}") from None
    model_file = find_model_file(directory, allowed_suffixes)
    if metadata is None or model_file is None or model_file.name != metadata.file:
        return None
    if metadata.mlflow is not None:  # an MLflow directory's probe rows are its input example
        return None
    target = ModelKey(name=directory.parent.name, version=int(directory.name), suffix=model_file.suffix)
    if metadata.source_bucket != sample_object.bucket or sample_object.key not in sample_keys(
        metadata.source_key, target
    ):
        return None
    # The model object's own metadata may turn the fast path off; the model object may also be gone meanwhile.
    head_request: dict[str, Any] = {"Bucket": sample_object.bucket, "Key": metadata.source_key}
    if metadata.version_id:
        head_request["VersionId"] = metadata.version_id
    try:
        head = call_s3("HeadObject", s3.head_object, **head_request)
    except ObjectGone:
        raise Superseded(f"{metadata.source_key} is no longer in S3") from None
    remove_temp_files(directory)
    loaded = load_checked(model_file, trusted=policy.trusted_types)
    sample = _fetch_sample(s3, sample_object.bucket, metadata.source_key, target)
    signature, validation = sign(loaded, sample)
    validation = apply_version_policy(signature, validation, "serve")  # recorded; a published model stays
    prepared = fast_path.prepare(
        loaded.model,
        loaded.feature_count,
        model_file.stat().st_size,
        head.get("Metadata") or {},
        directory,
        policy,
        sample,
        signature.inputs,
    )
    del loaded
    try:
        updated = metadata.with_check(validation, signature, prepared.record)
        write_atomically(directory / METADATA_FILE, updated.to_json())
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
