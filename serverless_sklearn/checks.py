"""The checks a model gets before it is uploaded: the same loading and signing the loader will do, run here.

A model file (``.joblib``, ``.pkl``, ``.skops``) or an MLflow model directory (``MLmodel`` and the file it names)
is loaded, asked in its serving form on its sample (or rows made from what it knows) and given the signature the
deployment will give it. What fails here would be refused there, so it is never uploaded.
"""

from __future__ import annotations

import hashlib
import json
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lambdas.common.models import ModelLoadError, load_model
from lambdas.common.repository import MLMODEL_FILE, MODEL_SUFFIXES
from lambdas.common.settings import skops_trusted_types
from lambdas.common.signature import Declared, Signature
from lambdas.loader import mlflow_model, samples, signing
from lambdas.loader.errors import PermanentFailure
from lambdas.loader.samples import Sample, SampleError, SampleFile
from serverless_sklearn.deployment import DeploymentError


@dataclass(frozen=True)
class LocalModel:
    model_file: Path
    files: tuple[Path, ...]  # everything to upload, in upload order (an MLflow directory's MLmodel last)
    sha256: str  # of the model file: the loader checks it, and the served version reports it
    signature: Signature
    trained_with: str | None  # the scikit-learn version that saved it
    sample: Sample | None
    mlflow: bool

    @property
    def suffix(self) -> str:
        return self.model_file.suffix


def check(path: Path, sample_path: Path | None) -> LocalModel:
    """Load and sign a model file or an MLflow directory as the loader will; DeploymentError says why not."""
    if path.is_dir():
        return _directory(path)
    if not path.is_file():
        raise DeploymentError(f"{path} is neither a model file nor an MLflow model directory")
    if path.suffix not in MODEL_SUFFIXES:
        raise DeploymentError(f"{path.name}: a model file ends in one of {', '.join(MODEL_SUFFIXES)}")
    sample = _sample(SampleFile(sample_path.name, sample_path.read_bytes())) if sample_path else None
    files = (sample_path, path) if sample_path else (path,)  # the sample first: the model is signed on it
    return _signed(path, files, sample, None, "predict", mlflow=False)


def _directory(path: Path) -> LocalModel:
    mlmodel = path / MLMODEL_FILE
    if not mlmodel.is_file():
        raise DeploymentError(f"{path} has no MLmodel file: only MLflow model directories are uploaded as a whole")
    try:
        model = mlflow_model.parse(mlmodel.read_bytes())
    except PermanentFailure as error:
        raise DeploymentError(str(error)) from None
    model_file = path / model.model_file
    if not model_file.is_file():
        raise DeploymentError(f"MLmodel names {model.model_file}, which is not in {path}")
    example = path / model.example_file if model.example_file else None
    sample = _sample(SampleFile(example.name, example.read_bytes())) if example and example.is_file() else None
    files = sorted((p for p in path.rglob("*") if p.is_file() and p != mlmodel), key=lambda p: str(p))
    return _signed(
        model_file,
        (*files, mlmodel),
        sample,
        model.declared,
        model.predict_fn,
        mlflow=True,
        stated_version=model.sklearn_version,
    )


def _signed(
    model_file: Path,
    files: tuple[Path, ...],
    sample: Sample | None,
    declared: Declared | None,
    default_output: str,
    *,
    mlflow: bool,
    stated_version: str | None = None,
) -> LocalModel:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            # The types the deployment trusts come from its operator, as SKOPS_TRUSTED_TYPES in this environment
            # too; a list an MLflow directory carries loads nothing more here than there.
            model = load_model(model_file, trusted=skops_trusted_types())
        except ModelLoadError as error:
            raise DeploymentError(f"the model does not load here: {error}") from None
    trained_with = next(
        (w.message.original_sklearn_version for w in caught if hasattr(w.message, "original_sklearn_version")),
        stated_version,
    )
    try:
        signed = signing.sign(model, sample, trained_with, declared=declared, default_output=default_output)
    except PermanentFailure as error:
        raise DeploymentError(f"the deployment would refuse it: {error}") from None
    provenance = signed.signature.provenance
    return LocalModel(
        model_file=model_file,
        files=files,
        sha256=hashlib.sha256(model_file.read_bytes()).hexdigest(),
        signature=signed.signature,
        trained_with=provenance.trained_with.get("scikit-learn") if provenance is not None else None,
        sample=sample,
        mlflow=mlflow,
    )


def _sample(file: SampleFile) -> Sample:
    try:
        return samples.parse(file)
    except SampleError as error:
        raise DeploymentError(str(error)) from None


def describe(signature: Signature) -> str:
    """The signature in one line: what to send, what comes back."""
    inputs = signature.inputs
    if inputs.named:
        sent = ", ".join(f"{c.name} {c.datatype or 'any'}" for c in inputs.columns)
    elif inputs.features is not None:
        sent = f"{inputs.features} {inputs.datatype} features"
    else:
        sent = "one string per row"
    answers = ", ".join(f"{o.name} {o.datatype} {list(o.shape)}" for o in signature.outputs)
    return f"takes {sent}; answers {answers}"


def example_request(signature: Signature, sample: Sample | None) -> dict[str, Any]:
    """A one-row V2 request for the model: its sample's first row, else values of the right type."""
    inputs = signature.inputs
    row = sample.rows[0] if sample is not None and sample.rows else None
    if inputs.named:
        record = row if isinstance(row, dict) else dict(zip(inputs.names, row, strict=False)) if row else {}
        tensors = []
        for column in inputs.columns:
            value = record.get(column.name, "" if column.datatype == "BYTES" else 0.0)
            datatype = column.datatype or ("BYTES" if isinstance(value, str) else "FP64")
            tensors.append({"name": column.name, "shape": [1], "datatype": datatype, "data": [value]})
        return {"inputs": tensors}
    if inputs.features is None:
        text = row if isinstance(row, str) else "some text"
        return {"inputs": [{"name": "input-0", "shape": [1], "datatype": "BYTES", "data": [text]}]}
    values = row if isinstance(row, list) else [0.0] * inputs.features
    return {"inputs": [{"name": "input-0", "shape": [1, inputs.features], "datatype": "FP64", "data": values}]}


def curl(url: str, request: dict[str, Any], options: str = "") -> str:
    """A curl to paste; ``options`` sign it or carry a token, as the command's own requests do."""
    body = json.dumps(request, separators=(",", ":")).replace("'", "'\\''")
    signing = f"{options} " if options else ""
    return f"curl -s {signing}-X POST {url} -H 'Content-Type: application/json' -d '{body}'"
