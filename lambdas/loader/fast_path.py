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

from lambdas.common.repository import ONNX_FILE
from lambdas.common.runtimes import ONNXRUNTIME, SCIKIT_LEARN
from lambdas.common.settings import is_off
from lambdas.common.signature import Inputs
from lambdas.loader import samples
from lambdas.loader.families import register_converters
from lambdas.loader.files import fsync_dir, temp_path, write_all
from lambdas.loader.onnx_convert import (
    NotConverted,
    convert,
    convert_frame,
    generated_frame_rows,
    generated_probe,
    read_sample,
)
from lambdas.loader.policy import PublishPolicy
from lambdas.loader.samples import SampleError, SampleFile

# S3 user metadata on a model object (x-amz-meta-onnx: false) that keeps that model on scikit-learn.
OBJECT_SWITCH = "onnx"


@dataclass(frozen=True)
class Prepared:
    """A conversion written to a temporary file beside the model (None: the model serves on scikit-learn), and what
    metadata.json says about it."""

    temp: Path | None
    record: dict[str, Any]


def prepare(
    model: Any,
    feature_count: int | None,
    size: int,
    object_metadata: dict[str, str],
    directory: Path,
    policy: PublishPolicy,
    sample: SampleFile | SampleError | None,
    inputs: Inputs | None = None,
) -> Prepared:
    """Convert ``model`` when the policy allows it and the conversion answers alike; never raises NotConverted.

    ``sample``: the model's sample as read from S3 (the probe set), the reason it could not be read, or None.
    ``inputs``: the model's signed inputs. A model fitted on named columns that are all numbers converts like a
    positional one and is fed its columns as one matrix; one with string columns converts with one graph input per
    column.
    """
    reason = _refusal(feature_count, size, object_metadata, policy)
    if reason is not None or feature_count is None:
        return Prepared(None, {"runtime": SCIKIT_LEARN, "reason": reason})
    try:
        if isinstance(sample, SampleError):
            raise NotConverted(str(sample))
        from lambdas.loader.signing import model_libraries  # the signing code is imported by publish anyway

        register_converters(model_libraries(model))
        if inputs is not None and inputs.named and not _numeric(inputs):
            conversion = convert_frame(model, inputs, *_frame_probe(model, inputs, sample))
        else:
            names = inputs.names if inputs is not None and inputs.named else None
            probe = (
                read_sample(sample.data, sample.filename, feature_count, names)
                if sample is not None
                else generated_probe(model, feature_count)
            )
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


def _numeric(inputs: Inputs) -> bool:
    return all(column.datatype in ("FP64", "INT64") for column in inputs.columns)


def _frame_probe(model: Any, inputs: Inputs, sample: SampleFile | None) -> tuple[list[dict[str, Any]], str]:
    """Records to check a per-column conversion on: the sample's, else generated ones."""
    if sample is None:
        return generated_frame_rows(model, inputs), "generated"
    try:
        parsed = samples.parse(sample)
    except SampleError as error:
        raise NotConverted(str(error)) from None
    if not parsed.records:
        raise NotConverted(f"{sample.filename} must hold records for a model fitted on named columns")
    return parsed.rows, sample.filename


def _refusal(
    feature_count: int | None, size: int, object_metadata: dict[str, str], policy: PublishPolicy
) -> str | None:
    if not policy.fast_path:
        return "the ONNX fast path is off for this deployment (ONNX_FAST_PATH)"
    if is_off(object_metadata.get(OBJECT_SWITCH)):
        return f"the model object's '{OBJECT_SWITCH}' metadata turns the fast path off"
    if size > policy.max_model_bytes:
        return f"the model file is larger than ONNX_MAX_MODEL_BYTES ({policy.max_model_bytes} bytes)"
    if feature_count is None:
        return "the model does not declare a number of numeric features (e.g. a text pipeline)"
    return None
