"""A model's sample: rows uploaded beside it (``iris.sample.json``, ``iris/3/sample.json`` or ``sample.npy``), read
once per publish.

The loader uses a sample three ways: its rows are the serving-form check and the ONNX probe set, its columns' JSON
types are the most trusted datatypes of a named model's signature, and the answers it may carry (``predictions``,
``probabilities``: what the model answered where it was trained) must be reproduced here.

Accepted JSON shapes: a list of rows (lists, strings or records), ``{"instances": rows}``, a DataFrame split
``{"columns": [...], "data": [[...]]}`` (also under ``dataframe_split``), ``{"dataframe_records": records}``;
optionally with ``"predictions"`` and ``"probabilities"`` beside the rows. A ``.npy`` file is a 2-D numeric array.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from typing import Any

import numpy as np

from lambdas.common.reasons import reason
from lambdas.common.repository import ModelKey, sample_keys
from lambdas.loader.errors import ObjectGone, PermanentFailure
from lambdas.loader.s3 import call_s3

MAX_SAMPLE_BYTES = 16 * 1024 * 1024
MAX_SAMPLE_ROWS = 100_000


class SampleError(ValueError):
    """A sample that cannot be used; the message says why."""


@dataclass(frozen=True)
class SampleFile:
    filename: str  # as uploaded: "sample.json", "iris.sample.npy", ...
    data: bytes


@dataclass(frozen=True)
class Sample:
    source: str
    rows: list[Any]  # as a V1 request's instances: lists, strings or records
    predictions: list[Any] | None = None
    probabilities: list[Any] | None = None

    @property
    def records(self) -> bool:
        return bool(self.rows) and all(isinstance(row, dict) for row in self.rows)

    def columns(self) -> dict[str, list[Any]] | None:
        """The sample's values by column, when its rows are records."""
        if not self.records:
            return None
        names = list(dict.fromkeys(name for row in self.rows for name in row))
        return {name: [row.get(name) for row in self.rows] for name in names}


def fetch(s3: Any, bucket: str, key: str, target: ModelKey) -> SampleFile | None:
    """The sample uploaded beside the model ``key``; None when there is none. A sample S3 refuses to read, or an
    oversized one, is a SampleError: it costs the checks that need it, never the model's publish."""
    for sample_key in sample_keys(key, target):
        found = read(s3, bucket, sample_key)
        if found is not None:
            return found
    return None


def read(s3: Any, bucket: str, key: str, version_id: str | None = None) -> SampleFile | None:
    """The sample at one key (None when it is not there); SampleError when it cannot be read or is too large."""
    filename = key.rsplit("/", 1)[-1]
    request = {"Bucket": bucket, "Key": key, **({"VersionId": version_id} if version_id else {})}
    try:
        response = call_s3("GetObject", s3.get_object, **request)
    except ObjectGone:
        return None
    except PermanentFailure as error:
        raise SampleError(f"{filename} cannot be read: {error}") from None
    body = response["Body"]
    try:
        if int(response.get("ContentLength") or 0) > MAX_SAMPLE_BYTES:
            raise SampleError(f"{filename} is larger than {MAX_SAMPLE_BYTES} bytes")
        data = body.read(MAX_SAMPLE_BYTES + 1)
    finally:
        body.close()
    if len(data) > MAX_SAMPLE_BYTES:
        raise SampleError(f"{filename} is larger than {MAX_SAMPLE_BYTES} bytes")
    return SampleFile(filename=filename, data=data)


def parse(sample: SampleFile, *, check_rows: bool = True) -> Sample:
    """The rows (and expected answers) a sample file holds; ``check_rows``: refuse too few or too many rows."""
    try:
        if sample.filename.endswith(".npy"):
            array = np.load(io.BytesIO(sample.data), allow_pickle=False)
            if array.ndim != 2:
                raise SampleError(f"{sample.filename} must hold a 2-D array, got shape {array.shape}")
            parsed = Sample(source=sample.filename, rows=array.tolist())
        else:
            parsed = _from_document(json.loads(sample.data), sample.filename)
    except SampleError:
        raise
    except Exception as error:  # any parse failure means the sample cannot be used
        raise SampleError(f"{sample.filename} does not parse: {reason(error)}") from None
    return _checked(parsed) if check_rows else parsed


def _from_document(document: Any, source: str) -> Sample:
    if isinstance(document, list):
        return Sample(source=source, rows=document)
    if not isinstance(document, dict):
        raise SampleError(f"{source} must be a list of rows or an object holding them")
    predictions, probabilities = document.get("predictions"), document.get("probabilities")
    if predictions is not None and not isinstance(predictions, list):
        raise SampleError(f"{source}: 'predictions' must be a list, one answer per row")
    if probabilities is not None and not isinstance(probabilities, list):
        raise SampleError(f"{source}: 'probabilities' must be a list of rows of class probabilities")
    split = document.get("dataframe_split", document if "columns" in document and "data" in document else None)
    if isinstance(split, dict):
        columns, data = split.get("columns"), split.get("data")
        if not isinstance(columns, list) or not isinstance(data, list) or not all(isinstance(r, list) for r in data):
            raise SampleError(f"{source}: a DataFrame split needs 'columns' and 'data' lists")
        if any(len(row) != len(columns) for row in data):
            raise SampleError(f"{source}: every row of 'data' must have one value per column")
        rows: Any = [dict(zip(map(str, columns), row, strict=True)) for row in data]
    else:
        rows = document.get("dataframe_records", document.get("instances", document.get("inputs")))
    if not isinstance(rows, list):
        raise SampleError(f"{source} holds no rows: expected 'instances', 'dataframe_split' or 'dataframe_records'")
    return Sample(source=source, rows=rows, predictions=predictions, probabilities=probabilities)


def _checked(sample: Sample) -> Sample:
    if not 1 <= len(sample.rows) <= MAX_SAMPLE_ROWS:
        raise SampleError(f"{sample.source} must hold 1 to {MAX_SAMPLE_ROWS} rows, got {len(sample.rows)}")
    for name, answers in (("predictions", sample.predictions), ("probabilities", sample.probabilities)):
        if answers is not None and len(answers) != len(sample.rows):
            raise SampleError(f"{sample.source}: '{name}' has {len(answers)} entries for {len(sample.rows)} rows")
    return sample
