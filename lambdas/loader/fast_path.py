"""The ONNX fast path in a publish: decide whether to convert, find the probe rows, and put ``model.onnx`` in place.

Order in a version directory, so readers only ever see a model and a conversion that belong together or a model on
its own: a new conversion is renamed in before the model file it was made from; a model without one has the old
``model.onnx`` removed before its own file is renamed in; a removal takes ``model.onnx`` away before the model.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lambdas.common.repository import ONNX_FILE, ModelKey, sample_keys
from lambdas.common.settings import Settings, is_off
from lambdas.loader.errors import ObjectGone, PermanentFailure
from lambdas.loader.files import fsync_dir, temp_path, write_all
from lambdas.loader.onnx_convert import (
    MAX_SAMPLE_BYTES,
    NotConverted,
    Probe,
    convert,
    generated_probe,
    read_sample,
)
from lambdas.loader.s3 import call_s3

SCIKIT_LEARN = "scikit-learn"
ONNXRUNTIME = "onnxruntime"
# S3 user metadata on a model object (x-amz-meta-onnx: false) that keeps that model on scikit-learn.
OBJECT_SWITCH = "onnx"


@dataclass(frozen=True)
class FastPathPolicy:
    enabled: bool
    max_model_bytes: int

    @classmethod
    def from_settings(cls, settings: Settings) -> FastPathPolicy:
        return cls(enabled=settings.onnx_fast_path, max_model_bytes=settings.onnx_max_model_bytes)


OFF = FastPathPolicy(enabled=False, max_model_bytes=0)


@dataclass(frozen=True)
class Prepared:
    """A conversion written to a temporary file beside the model (None: the model serves on scikit-learn), and what
    metadata.json says about it."""

    temp: Path | None
    record: dict[str, Any]


def prepare(
    s3: Any,
    bucket: str,
    key: str,
    target: ModelKey,
    model: Any,
    feature_count: int | None,
    size: int,
    object_metadata: dict[str, str],
    directory: Path,
    policy: FastPathPolicy,
) -> Prepared:
    """Convert ``model`` when the policy allows it and the conversion answers alike; never raises NotConverted."""
    reason = _refusal(feature_count, size, object_metadata, policy)
    if reason is not None or feature_count is None:
        return Prepared(None, {"runtime": SCIKIT_LEARN, "reason": reason})
    try:
        probe = _probe(s3, bucket, key, target, model, feature_count)
        conversion = convert(model, feature_count, probe)
    except NotConverted as error:
        return Prepared(None, {"runtime": SCIKIT_LEARN, "reason": f"not converted: {error}"})
    temp = temp_path(directory / ONNX_FILE)
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o640)
    try:
        write_all(fd, conversion.onnx)
        os.fsync(fd)
    finally:
        os.close(fd)
    return Prepared(
        temp, {"runtime": ONNXRUNTIME, "file": ONNX_FILE, "bytes": len(conversion.onnx), **conversion.details}
    )


def install(directory: Path, prepared: Prepared) -> None:
    """Put the conversion in place, or remove a previous one: before the model file itself is renamed in."""
    if prepared.temp is not None:
        prepared.temp.replace(directory / ONNX_FILE)
    else:
        (directory / ONNX_FILE).unlink(missing_ok=True)


def remove(directory: Path) -> None:
    """Take a version's conversion away before its model file goes, so it never serves a removed model."""
    if (directory / ONNX_FILE).exists():
        (directory / ONNX_FILE).unlink(missing_ok=True)
        fsync_dir(directory)


def _refusal(
    feature_count: int | None, size: int, object_metadata: dict[str, str], policy: FastPathPolicy
) -> str | None:
    if not policy.enabled:
        return "the ONNX fast path is off for this deployment (ONNX_FAST_PATH)"
    if is_off(object_metadata.get(OBJECT_SWITCH)):
        return f"the model object's '{OBJECT_SWITCH}' metadata turns the fast path off"
    if size > policy.max_model_bytes:
        return f"the model file is larger than ONNX_MAX_MODEL_BYTES ({policy.max_model_bytes} bytes)"
    if feature_count is None:
        return "the model does not declare a number of numeric features (e.g. a text pipeline)"
    return None


def _probe(s3: Any, bucket: str, key: str, target: ModelKey, model: Any, feature_count: int) -> Probe:
    """The model's uploaded sample when there is one, else generated rows."""
    for sample_key in sample_keys(key, target):
        filename = sample_key.rsplit("/", 1)[-1]
        try:
            response = call_s3("GetObject", s3.get_object, Bucket=bucket, Key=sample_key)
        except ObjectGone:
            continue
        except PermanentFailure as error:  # a sample S3 refuses costs the fast path, never the model's publish
            raise NotConverted(f"{filename} cannot be read: {error}") from None
        body = response["Body"]
        try:
            if int(response.get("ContentLength") or 0) > MAX_SAMPLE_BYTES:
                raise NotConverted(f"{filename} is larger than {MAX_SAMPLE_BYTES} bytes")
            data = body.read(MAX_SAMPLE_BYTES + 1)
        finally:
            body.close()
        return read_sample(data, filename, feature_count)
    return generated_probe(model, feature_count)
