"""Signing a model at publish time: its signature (what to send it, what it answers) and its provenance, from the
model asked in its serving form.

The model is asked exactly as the inference function will ask it: rows decoded by the same codecs from the same
signature and passed by the same scikit-learn runner (a DataFrame for named columns). It is asked about its own
sample first when one was uploaded, else about rows made from what the fitted model knows (zeros and ones for
numbers, an encoder's first category for strings). A model that can answer none of them is not published; a sample
that carries the answers the model gave where it was trained must get them again here.
"""

from __future__ import annotations

import importlib.metadata
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import numpy as np

from lambdas.common import signature as signatures
from lambdas.common.batch import Batch
from lambdas.common.codecs import decode_rows
from lambdas.common.errors import InferenceError
from lambdas.common.payloads import RowsRequest
from lambdas.common.reasons import reason
from lambdas.common.runtimes import SklearnRunner
from lambdas.common.signature import Declared, Inputs, Provenance, Signature
from lambdas.common.tensors import json_values
from lambdas.loader.errors import AnswersDiffer, ModelInvalid
from lambdas.loader.samples import Sample

# Expected probabilities (and regression values) are reproduced when within this, absolute or relative.
ANSWER_TOLERANCE = 1e-6
_MAX_WALK = 20_000
# Top-level modules of model classes and the distributions that ship them.
_DISTRIBUTIONS = {"sklearn": "scikit-learn", "xgboost": "xgboost", "lightgbm": "lightgbm", "skops": "skops"}
# The standard library and the array libraries hold a model's data, not its code.
_NOT_MODEL_CODE = frozenset(sys.stdlib_module_names) | {"builtins", "numpy", "scipy", "joblib"}


@dataclass(frozen=True)
class Signed:
    signature: Signature
    checked_on: str  # the sample's file name, or "generated rows"
    expected_answers: str | None  # "reproduced" when the sample carried answers; None when it did not
    notes: tuple[str, ...] = field(default_factory=tuple)


def sign(
    model: Any,
    sample: Sample | None,
    trained_with_sklearn: str | None,
    *,
    declared: Declared | None = None,
    default_output: str = signatures.PREDICT,
) -> Signed:
    """The model's signature, from its answers in its serving form; ModelInvalid when it cannot answer.

    ``declared``: what an MLmodel signature states; ``default_output``: its ``predict_fn``."""
    inputs, source = signatures.model_inputs(model, sample.columns() if sample is not None else None, declared)
    runner = SklearnRunner(model)
    notes: list[str] = []
    answered: tuple[Batch, np.ndarray, np.ndarray | None] | None = None
    first_failure: str | None = None
    if sample is not None:
        try:
            batch = decode_rows(RowsRequest(rows=sample.rows, field=sample.source), inputs)
            answered = (batch, *_ask(runner, batch))
        except InferenceError as error:
            failure = f"{sample.source} does not fit the model: {error.message}"
        except Exception as error:  # the model refuses its own sample
            failure = f"the model refuses {sample.source}: {reason(error)}"
        if answered is None:
            if sample.predictions is not None:
                raise AnswersDiffer(f"{failure}; its expected answers cannot be checked")
            notes.append(failure)
            first_failure = failure
            inputs, source = signatures.model_inputs(model, declared=declared)
    if answered is None:
        for rows in _generated_rows(model, inputs):
            try:
                batch = decode_rows(RowsRequest(rows=rows, field="generated rows"), inputs)
                answered = (batch, *_ask(runner, batch))
                break
            except Exception as error:  # try the next rows; the first reason is the one reported
                first_failure = first_failure or reason(error)
    if answered is None:
        raise ModelInvalid(f"the model cannot answer in its serving form: {first_failure}")
    batch, predict, proba = answered
    outputs, classes = signatures.outputs_from_answers(predict, proba, getattr(model, "classes_", None))
    if default_output == signatures.PREDICT_PROBA and proba is None:
        raise ModelInvalid("MLmodel's predict_fn is predict_proba, which the model does not answer")
    checked_on = sample.source if sample is not None and not notes else "generated rows"
    expected = None
    if sample is not None and sample.predictions is not None and not notes:
        _check_answers(sample, predict, proba)
        expected = "reproduced"
    signed = Signature(
        inputs=inputs,
        outputs=outputs,
        classes=classes,
        provenance=provenance(model, trained_with_sklearn),
        datatype_source=source,
        default_output=default_output,
        params=declared.params if declared is not None else None,
    )
    return Signed(signature=signed, checked_on=checked_on, expected_answers=expected, notes=tuple(notes))


def _ask(runner: SklearnRunner, batch: Batch) -> tuple[np.ndarray, np.ndarray | None]:
    predict = runner.predict(batch)
    if predict.ndim not in (1, 2) or len(predict) != batch.rows:
        raise ValueError(f"predict answers shape {predict.shape} for {batch.rows} rows")
    proba = runner.predict_proba(batch) if runner.has_proba else None
    return predict, proba


def _generated_rows(model: Any, inputs: Inputs) -> Iterator[list[Any]]:
    """Rows to ask a model without a sample about, most likely to be accepted first."""
    if inputs.mixed:
        examples = signatures.fitted_column_examples(model, inputs.names)
        for number in (0, 1):
            yield [[examples.get(column.name, _filler(column.datatype, number)) for column in inputs.columns]]
        return
    if not inputs.named:
        if inputs.features is None:
            yield ["a b", ""]
        else:
            yield [[0.0] * inputs.features, [1.0] * inputs.features]
            means = getattr(_first_numeric_step(model), "mean_", None)
            if isinstance(means, np.ndarray) and means.shape == (inputs.features,):
                yield [means.astype(float).tolist()]
        return
    examples = signatures.fitted_column_examples(model, inputs.names)
    for number in (0, 1):
        yield [{column.name: examples.get(column.name, _filler(column.datatype, number)) for column in inputs.columns}]


def _filler(datatype: str | None, number: int) -> Any:
    if datatype == "BYTES":
        return ""
    if datatype == "BOOL":
        return bool(number)
    if datatype == "INT64":
        return number
    return float(number)


def _first_numeric_step(model: Any) -> Any:
    steps = getattr(model, "steps", None)
    return steps[0][1] if isinstance(steps, list) and steps else model


def _check_answers(sample: Sample, predict: np.ndarray, proba: np.ndarray | None) -> None:
    expected = sample.predictions or []
    got = json_values(predict)
    if predict.dtype.kind in "fc":
        try:
            wanted = np.asarray(expected, dtype=np.float64).reshape(predict.shape)
        except (TypeError, ValueError):
            raise AnswersDiffer(f"{sample.source}: 'predictions' do not have the model's output shape") from None
        close = np.isclose(predict, wanted, rtol=ANSWER_TOLERANCE, atol=ANSWER_TOLERANCE, equal_nan=True)
        differing = np.flatnonzero(~close.reshape(len(predict), -1).all(axis=1)).tolist()
    else:
        differing = [i for i, (a, b) in enumerate(zip(got, expected, strict=True)) if a != b]
    if len(differing):
        first = differing[0]
        raise AnswersDiffer(
            f"the model does not reproduce the predictions in {sample.source}: {len(differing)} of {len(got)} "
            f"differ (row {first}: expected {expected[first]!r}, got {got[first]!r})"
        )
    if sample.probabilities is None:
        return
    if proba is None:
        raise AnswersDiffer(f"{sample.source} carries probabilities but the model has no predict_proba")
    try:
        wanted_proba = np.asarray(sample.probabilities, dtype=np.float64)
    except (TypeError, ValueError):
        raise AnswersDiffer(f"{sample.source}: 'probabilities' must be rows of numbers") from None
    if wanted_proba.shape != proba.shape:
        raise AnswersDiffer(f"{sample.source}: probabilities have shape {wanted_proba.shape}, the model {proba.shape}")
    difference = float(np.max(np.abs(proba - wanted_proba))) if proba.size else 0.0
    if not difference <= ANSWER_TOLERANCE:
        raise AnswersDiffer(
            f"the model does not reproduce the probabilities in {sample.source}: they differ by up to "
            f"{difference:.3g} (tolerance {ANSWER_TOLERANCE})"
        )


def provenance(model: Any, trained_with_sklearn: str | None) -> Provenance:
    """Where the model's code comes from, which versions it was saved with, and which serve it here."""
    cls = type(model)
    libraries = sorted(model_libraries(model))
    served = {name: version for name in libraries if (version := installed_version(name)) is not None}
    trained = {}
    if "scikit-learn" in libraries:
        trained["scikit-learn"] = trained_with_sklearn or served.get("scikit-learn", "unknown")
    return Provenance(
        estimator=f"{cls.__module__}.{cls.__qualname__}",
        libraries=tuple(libraries),
        trained_with=trained,
        served_with=served,
    )


def model_libraries(model: Any) -> set[str]:
    """The distributions whose classes make up the model, found by walking its attributes."""
    found: set[str] = set()
    seen: set[int] = set()
    pending = [model]
    while pending and len(seen) < _MAX_WALK:
        item = pending.pop()
        if id(item) in seen or isinstance(item, str | bytes | int | float | bool | np.ndarray | np.generic):
            continue
        seen.add(id(item))
        if isinstance(item, list | tuple | set | frozenset):
            pending.extend(item)
            continue
        if isinstance(item, dict):
            pending.extend(item.values())
            continue
        module = type(item).__module__.split(".")[0]
        if module not in _NOT_MODEL_CODE:
            found.add(_DISTRIBUTIONS.get(module, module))
        attributes = getattr(item, "__dict__", None)
        if isinstance(attributes, dict):
            pending.extend(attributes.values())
    return found


@cache
def installed_version(distribution: str) -> str | None:
    """The installed version of a library, by its name or, for a library published under other names (XGBoost's
    ``xgboost-cpu`` wheel), by the distribution that provides its module."""
    modules = [module for module, name in _DISTRIBUTIONS.items() if name == distribution] or [distribution]
    candidates = [distribution]
    providers = importlib.metadata.packages_distributions()
    for module in modules:
        candidates += providers.get(module, [])
    for candidate in candidates:
        try:
            return importlib.metadata.version(candidate)
        except importlib.metadata.PackageNotFoundError:
            continue
    return None
