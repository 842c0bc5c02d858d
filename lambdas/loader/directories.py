"""MLflow model directories: every object under a version prefix (``churn/1/MLmodel``, ``churn/1/model.pkl``, ...)
makes one version, published once ``MLmodel`` and the file it names are both in S3.

``aws s3 cp --recursive`` sends one event per file, in any order. Each event makes the loader compare the version
with what S3 holds now, under the model's lock, rather than apply the event itself: the first event that finds both
files publishes, later ones find the same objects already published (or refused) and change nothing, and the order
of their arrival cannot matter. Removing ``MLmodel`` removes the version.

A version prefix without ``MLmodel`` is read as the repository layout says (``churn/1/model.pkl`` is a model of its
own), unless it holds files only an MLflow directory has: then the loader waits for its ``MLmodel``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from lambdas.common.metadata import MetadataError, VersionMetadata, read_metadata
from lambdas.common.repository import MLMODEL_FILE, ModelKey, VersionPrefix, version_dir
from lambdas.common.settings import Settings
from lambdas.common.verdicts import read_verdict
from lambdas.loader import mlflow_model, samples
from lambdas.loader.errors import ModelInvalid, PermanentFailure, Superseded
from lambdas.loader.events import ObjectRef
from lambdas.loader.policy import PublishPolicy
from lambdas.loader.publish import DirectoryOrigin, publish_model
from lambdas.loader.refusals import record_verdict
from lambdas.loader.removal import remove_model
from lambdas.loader.s3 import S3Reader, call_s3
from lambdas.loader.samples import SampleError

# Files only an MLflow model directory holds, besides MLmodel itself.
MLFLOW_FILES = frozenset(
    {
        "conda.yaml",
        "python_env.yaml",
        "requirements.txt",
        "input_example.json",
        "serving_input_example.json",
        "registered_model_meta",
    }
)
_MAX_LISTED = 10_000


@dataclass(frozen=True)
class Listed:
    key: str
    etag: str


@dataclass(frozen=True)
class Applied:
    """What the version's objects in S3 made of it: published, removed, refused, waiting or unchanged."""

    action: str
    reason: str
    details: dict[str, Any] = field(default_factory=dict)


def reconcile(s3: S3Reader, bucket: str, where: VersionPrefix, settings: Settings) -> Applied | None:
    """Bring the version under ``where`` in line with its MLflow directory in S3; None when it is not one."""
    listing = _list(s3, bucket, where.prefix)
    directory = version_dir(settings.model_dir, where.name, where.version)
    try:
        metadata = read_metadata(directory)
    except MetadataError:  # a record this loader cannot read is replaced by the next publish
        metadata = None
    ours = (
        metadata is not None
        and metadata.mlflow is not None
        and (metadata.source_bucket, metadata.source_key) == (bucket, where.mlmodel_key)
    )
    mlmodel = listing.get(MLMODEL_FILE)
    if mlmodel is None:
        return _without_mlmodel(bucket, where, settings, listing, metadata, ours)
    target = ModelKey(where.name, where.version, ".pkl")
    # The objects it is made from: MLmodel alone until MLmodel is read, then the files it names too.
    fingerprint = f"MLmodel={mlmodel.etag}"
    verdict = read_verdict(directory)
    try:
        if verdict is not None and verdict.fingerprint == fingerprint:
            return Applied("unchanged", f"already refused from these objects: {verdict.reason}")
        model = mlflow_model.parse(_read_mlmodel(s3, bucket, mlmodel))
        target = ModelKey(where.name, where.version, model.suffix)
        model_object = listing.get(model.model_file)
        if model_object is None:
            return Applied("waiting", f"MLmodel names {model.model_file}, which is not in S3 yet")
        example = listing.get(model.example_file) if model.example_file else None
        fingerprint = _fingerprint({"MLmodel": mlmodel, model.model_file: model_object, "example": example})
        if ours and metadata is not None and metadata.mlflow_fingerprint == fingerprint:
            return Applied("unchanged", "already published from these objects")
        if verdict is not None and verdict.fingerprint == fingerprint:
            return Applied("unchanged", f"already refused from these objects: {verdict.reason}")
        if model.suffix not in settings.allowed_suffixes:
            raise ModelInvalid(f"MLmodel's {model.serialization_format} file is not an allowed model format here")
        origin = DirectoryOrigin(where.mlmodel_key, model, _example(s3, bucket, example), fingerprint)
        obj = ObjectRef(bucket=bucket, key=model_object.key, etag=model_object.etag)
        policy = PublishPolicy.from_settings(settings)
        published = publish_model(
            s3, obj, target, settings.model_dir, policy, settings.model_version_policy, origin=origin
        )
    except Superseded as error:  # an object changed since it was listed: its own event follows
        return Applied("unchanged", f"superseded: {error}")
    except PermanentFailure as error:
        reason = f"{type(error).__name__}: {error}"
        record_verdict(
            settings.model_dir,
            target,
            where.mlmodel_key,
            reason,
            sha256=error.sha256,
            fingerprint=fingerprint,
        )
        return Applied("refused", reason)
    return _published(published.metadata)


def _fingerprint(objects: dict[str, Listed | None]) -> str:
    """The S3 objects a directory is made of, by path and ETag: a publish or refusal from the same ones repeats."""
    return " ".join(f"{path}={listed.etag}" for path, listed in objects.items() if listed is not None)


def _published(recorded: VersionMetadata) -> Applied:
    details: dict[str, Any] = {
        "mlflow": recorded.mlflow,
        "sha256": recorded.sha256,
        "estimator": recorded.validation.estimator,
        "fast_path": recorded.fast_path,
    }
    if recorded.validation.version_mismatch:
        details["version_mismatch"] = list(recorded.validation.version_mismatch)
    return Applied("published", "published from an MLflow model directory", details)


def _without_mlmodel(
    bucket: str,
    where: VersionPrefix,
    settings: Settings,
    listing: dict[str, Listed],
    metadata: VersionMetadata | None,
    ours: bool,
) -> Applied | None:
    directory = version_dir(settings.model_dir, where.name, where.version)
    verdict = read_verdict(directory)
    refused = verdict is not None and verdict.source_key == where.mlmodel_key
    if ours or refused:
        suffix = "." + (metadata.file if metadata is not None else "model.pkl").rpartition(".")[2]
        target = ModelKey(where.name, where.version, suffix)
        removed = remove_model(ObjectRef(bucket=bucket, key=where.mlmodel_key), target, settings.model_dir)
        return Applied("removed", f"MLmodel is gone: {removed.reason}")
    if listing.keys() & MLFLOW_FILES:
        return Applied("waiting", "an MLflow model directory is published once its MLmodel is in S3")
    return None


def _list(s3: S3Reader, bucket: str, prefix: str) -> dict[str, Listed]:
    """The objects under a version prefix, by their path below it."""
    found: dict[str, Listed] = {}
    request: dict[str, Any] = {"Bucket": bucket, "Prefix": prefix}
    while len(found) < _MAX_LISTED:
        page = call_s3("ListObjectsV2", s3.list_objects_v2, **request)
        for item in page.get("Contents") or ():
            key = item.get("Key")
            if isinstance(key, str):
                etag = str(item.get("ETag") or "").strip('"')
                found[key[len(prefix) :]] = Listed(key=key, etag=etag)
        token = page.get("NextContinuationToken")
        if not page.get("IsTruncated") or not token:
            break
        request["ContinuationToken"] = token
    return found


def _read_mlmodel(s3: S3Reader, bucket: str, listed: Listed) -> bytes:
    response = call_s3("GetObject", s3.get_object, Bucket=bucket, Key=listed.key, IfMatch=listed.etag)
    body = response["Body"]
    try:
        data: bytes = body.read(mlflow_model.MAX_MLMODEL_BYTES + 1)
    finally:
        body.close()
    if len(data) > mlflow_model.MAX_MLMODEL_BYTES:
        raise ModelInvalid(f"MLmodel is larger than {mlflow_model.MAX_MLMODEL_BYTES} bytes")
    return data


def _example(s3: S3Reader, bucket: str, listed: Listed | None) -> samples.SampleFile | SampleError | None:
    if listed is None:
        return None
    try:
        return samples.read(s3, bucket, listed.key)
    except SampleError as error:
        return error
