"""The ONNX fast path, publish side: convert a model with skl2onnx and keep the conversion only when it answers as
scikit-learn does on a probe set.

The probe set is the model's own ``sample.json`` or ``sample.npy`` when one was uploaded beside it; otherwise rows
are generated: zeros, normal rows at three scales and, where they exist, rows placed where implementations part
ways: exactly on tree thresholds and one float32 step either side (a conversion that rounds differently branches the
other way), and on the points a model keeps, such as a neighbours model's training rows (where distances tie). The
conversion passes when every label is equal and every probability is within ``TOLERANCE`` (regression values: within
``TOLERANCE``, relative or absolute).

Conversions are tried in order: float64 input, then float64 with the tree operators of ai.onnx.ml opset 3, then
float32 input (the inference function casts to what the graph takes). scikit-learn's trees compare float32 features
with float64 thresholds, so in float64 graphs each tree's input is first rounded to float32 as scikit-learn rounds it.
"""

from __future__ import annotations

import io
import json
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from lambdas.common.onnx_interface import METADATA_KEY, OnnxInterface, open_session

TOLERANCE = 1e-5
MAX_SAMPLE_BYTES = 16 * 1024 * 1024
MAX_SAMPLE_ROWS = 100_000
_ROWS_PER_SCALE = 128
_THRESHOLD_ROWS = 512
_SCALES = (1.0, 10.0, 1000.0)
_MAX_REASON_CHARS = 300

Array = npt.NDArray[Any]


class NotConverted(Exception):
    """The model stays on scikit-learn; the message says why."""


@dataclass(frozen=True)
class Probe:
    rows: Array
    source: str  # "sample.json", "sample.npy" or "generated"


@dataclass(frozen=True)
class Conversion:
    onnx: bytes
    interface: OnnxInterface
    details: dict[str, Any]


@dataclass(frozen=True)
class _Candidate:
    dtype: str
    ml_opset: int | None  # None: skl2onnx's default opsets

    @property
    def label(self) -> str:
        return self.dtype if self.ml_opset is None else f"{self.dtype}, ai.onnx.ml opset {self.ml_opset}"


_CANDIDATES = (_Candidate("float64", None), _Candidate("float64", 3), _Candidate("float32", None))


def convert(model: Any, feature_count: int, probe: Probe) -> Conversion:
    """The first candidate conversion whose answers match ``model`` on the probe rows; NotConverted otherwise."""
    expected = _expected_answers(model, probe)
    failures = []
    for candidate in _CANDIDATES:
        try:
            return _convert(model, feature_count, probe, expected, candidate)
        except NotConverted as error:
            failures.append(f"{candidate.label}: {error}")
    raise NotConverted("; ".join(failures))


def _expected_answers(model: Any, probe: Probe) -> dict[str, Array]:
    try:
        answers = {"predict": np.asarray(model.predict(probe.rows))}
        proba = model.predict_proba(probe.rows) if _has_proba(model) else None
    except Exception as error:  # the model refuses rows of this shape: nothing to compare a conversion with
        raise NotConverted(f"the model does not accept the {probe.source} probe rows: {_short(error)}") from None
    if answers["predict"].ndim not in (1, 2) or len(answers["predict"]) != len(probe.rows):
        raise NotConverted(f"predict returns shape {answers['predict'].shape}, not one answer per row")
    if proba is not None:
        if not isinstance(proba, np.ndarray) or proba.ndim != 2:  # e.g. a list per output of multi-output models
            raise NotConverted("predict_proba does not return one row of class probabilities per input row")
        answers["predict_proba"] = proba.astype(np.float64)
    return answers


def _convert(
    model: Any, feature_count: int, probe: Probe, expected: dict[str, Array], candidate: _Candidate
) -> Conversion:
    onnx_model = _to_onnx(model, feature_count, candidate)
    input_dtype = np.dtype(candidate.dtype)
    try:
        session = open_session(onnx_model.SerializeToString())
    except Exception as error:
        raise NotConverted(f"onnxruntime cannot open the conversion: {_short(error)}") from None
    outputs = [output.name for output in session.get_outputs()]
    wanted = {"predict": outputs[0]}
    if "predict_proba" in expected:
        if len(outputs) < 2:
            raise NotConverted("the conversion has no probabilities output")
        wanted["predict_proba"] = outputs[1]
    input_name = session.get_inputs()[0].name
    try:
        answers = session.run(list(wanted.values()), {input_name: probe.rows.astype(input_dtype)})
    except Exception as error:
        raise NotConverted(f"onnxruntime fails on the probe rows: {_short(error)}") from None
    details = _compare(expected, dict(zip(wanted, answers, strict=True)))
    predict = expected["predict"]
    interface = OnnxInterface(
        input_name=input_name,
        input_dtype=candidate.dtype,
        feature_count=feature_count,
        predict_output=wanted["predict"],
        predict_dtype="str" if predict.dtype.kind in "OUS" else predict.dtype.name,
        predict_ndim=predict.ndim,
        proba_output=wanted.get("predict_proba"),
        class_count=expected["predict_proba"].shape[1] if "predict_proba" in expected else None,
    )
    entry = onnx_model.metadata_props.add()
    entry.key, entry.value = METADATA_KEY, interface.to_json()
    details.update(conversion=candidate.label, probe=probe.source, probe_rows=len(probe.rows))
    return Conversion(onnx=onnx_model.SerializeToString(), interface=interface, details=details)


def _to_onnx(model: Any, feature_count: int, candidate: _Candidate) -> Any:
    from skl2onnx import get_latest_tested_opset_version, to_onnx
    from sklearn.base import is_classifier

    example = np.zeros((1, feature_count), dtype=candidate.dtype)
    opset: int | dict[str, int] | None = None
    if candidate.ml_opset is not None:
        opset = {"": get_latest_tested_opset_version(), "ai.onnx.ml": candidate.ml_opset}
    options = {"zipmap": False} if is_classifier(model) else None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            onnx_model = to_onnx(model, example, options=options, target_opset=opset)
    except Exception as error:  # converters raise many kinds of errors for what they do not support
        raise NotConverted(f"skl2onnx cannot convert it: {_short(error)}") from None
    if candidate.dtype == "float64":
        _round_tree_inputs_to_float32(onnx_model)
    return onnx_model


def _round_tree_inputs_to_float32(onnx_model: Any) -> None:
    """Put Cast(float32) -> Cast(float64) before every tree ensemble node, as scikit-learn's trees see float32."""
    from onnx import TensorProto, helper

    graph = onnx_model.graph
    nodes = []
    for node in graph.node:
        if node.op_type.startswith("TreeEnsemble") and node.input:
            source = node.input[0]
            as_float32, rounded = f"{source}_{node.name}_float32", f"{source}_{node.name}_rounded"
            nodes.append(helper.make_node("Cast", [source], [as_float32], to=TensorProto.FLOAT))
            nodes.append(helper.make_node("Cast", [as_float32], [rounded], to=TensorProto.DOUBLE))
            node.input[0] = rounded
        nodes.append(node)
    del graph.node[:]
    graph.node.extend(nodes)


def _compare(expected: dict[str, Array], answers: dict[str, Array]) -> dict[str, Any]:
    predict, got = expected["predict"], np.asarray(answers["predict"])
    if got.size != predict.size:
        raise NotConverted(f"predict gives {got.size} values, scikit-learn {predict.size}")
    got = got.reshape(predict.shape)
    details: dict[str, Any] = {}
    if predict.dtype.kind in "fc":
        difference = _max_difference(predict, got)
        if not np.allclose(got, predict, rtol=TOLERANCE, atol=TOLERANCE, equal_nan=True):
            raise NotConverted(f"predictions differ by up to {difference:.3g}")
        details["max_prediction_difference"] = difference
    else:
        labels = got.astype(str) if predict.dtype.kind in "OUS" else got.astype(predict.dtype)
        mismatched = int(np.count_nonzero(labels != (predict.astype(str) if predict.dtype.kind in "OUS" else predict)))
        if mismatched:
            raise NotConverted(f"{mismatched} of {len(predict)} labels differ")
    if "predict_proba" in expected:
        proba, got_proba = expected["predict_proba"], np.asarray(answers["predict_proba"], dtype=np.float64)
        if got_proba.shape != proba.shape:
            raise NotConverted(f"probabilities have shape {got_proba.shape}, scikit-learn {proba.shape}")
        difference = _max_difference(proba, got_proba)
        if not difference <= TOLERANCE:
            raise NotConverted(f"probabilities differ by up to {difference:.3g}")
        details["max_probability_difference"] = difference
    return details


def _max_difference(expected: Array, got: Array) -> float:
    if expected.size == 0:
        return 0.0
    with np.errstate(invalid="ignore"):
        return float(np.nanmax(np.abs(got.astype(np.float64) - expected.astype(np.float64))))


# --- probe rows ---


def read_sample(data: bytes, filename: str, feature_count: int) -> Probe:
    """A probe set from an uploaded sample: a JSON list of rows (or {"instances": rows}), or a 2-D .npy array."""
    if len(data) > MAX_SAMPLE_BYTES:
        raise NotConverted(f"{filename} is larger than {MAX_SAMPLE_BYTES} bytes")
    try:
        if filename.endswith(".npy"):
            rows = np.load(io.BytesIO(data), allow_pickle=False)
        else:
            document = json.loads(data)
            rows = np.asarray(document.get("instances") if isinstance(document, dict) else document)
    except Exception as error:  # any parse failure means the sample cannot be used
        raise NotConverted(f"{filename} does not parse: {_short(error)}") from None
    if rows.ndim != 2 or rows.shape[1] != feature_count or not 1 <= rows.shape[0] <= MAX_SAMPLE_ROWS:
        raise NotConverted(
            f"{filename} must hold 1 to {MAX_SAMPLE_ROWS} rows of {feature_count} features, got shape {rows.shape}"
        )
    if rows.dtype.kind not in "iuf" or not np.isfinite(rows).all():
        raise NotConverted(f"{filename} must hold finite numbers only")
    return Probe(rows=rows.astype(np.float64), source=filename)


def generated_probe(model: Any, feature_count: int) -> Probe:
    """Rows for a model uploaded without a sample; the same rows every time for the same model."""
    rng = np.random.default_rng(0)
    parts = [np.zeros((1, feature_count))]
    parts += [rng.normal(0.0, scale, (_ROWS_PER_SCALE, feature_count)) for scale in _SCALES]
    estimator, to_inputs = _final_estimator(model)
    if estimator is not None:
        for rows in (_threshold_rows(estimator, feature_count, rng), _stored_rows(estimator, feature_count, rng)):
            if len(rows):
                parts.append(_mapped(rows, to_inputs, feature_count))
    return Probe(rows=np.vstack(parts), source="generated")


def _final_estimator(model: Any) -> tuple[Any, Any]:
    """The estimator that makes the predictions, and how to map rows it sees back to model inputs (None: as is).

    A pipeline whose earlier steps cannot be inverted gives no estimator: its rows cannot be placed on purpose.
    """
    steps = getattr(model, "steps", None)
    if not isinstance(steps, list) or not steps:
        return model, None
    if len(steps) == 1:
        return steps[-1][1], None
    to_inputs = getattr(model[:-1], "inverse_transform", None)
    return (steps[-1][1], to_inputs) if to_inputs is not None else (None, None)


def _mapped(rows: Array, to_inputs: Any, feature_count: int) -> Array:
    if to_inputs is None:
        return rows
    try:
        mapped = np.asarray(to_inputs(rows), dtype=np.float64)
    except Exception:  # a step that cannot invert these rows: the generic rows still probe the model
        return np.empty((0, feature_count))
    return mapped if mapped.ndim == 2 and mapped.shape[1] == feature_count else np.empty((0, feature_count))


def _threshold_rows(estimator: Any, feature_count: int, rng: np.random.Generator) -> Array:
    """Rows whose features sit on tree thresholds, or a float32 step off them; none for models without trees."""
    thresholds = _tree_thresholds(estimator, feature_count)
    if len(thresholds) != feature_count or not any(len(values) for values in thresholds):
        return np.empty((0, feature_count))
    rows = rng.normal(0.0, 1.0, (_THRESHOLD_ROWS, feature_count))
    for feature, values in enumerate(thresholds):
        if len(values):
            chosen = rng.choice(values, _THRESHOLD_ROWS).astype(np.float64)
            as_float32 = chosen.astype(np.float32)
            nudged = [
                chosen,
                as_float32.astype(np.float64),
                np.nextafter(as_float32, np.float32(np.inf)).astype(np.float64),
                np.nextafter(as_float32, np.float32(-np.inf)).astype(np.float64),
            ]
            rows[:, feature] = np.choose(rng.integers(0, len(nudged), _THRESHOLD_ROWS), nudged)
    return rows


def _stored_rows(estimator: Any, feature_count: int, rng: np.random.Generator) -> Array:
    """Rows a model keeps (neighbours' training points, support vectors, cluster centres): where distances tie,
    and ties are broken differently by different implementations."""
    for attribute in ("_fit_X", "support_vectors_", "cluster_centers_"):
        stored = getattr(estimator, attribute, None)
        if isinstance(stored, np.ndarray) and stored.ndim == 2 and stored.shape[1] == feature_count:
            count = min(len(stored), _THRESHOLD_ROWS)
            return np.asarray(stored[rng.choice(len(stored), count, replace=False)], dtype=np.float64)
    return np.empty((0, feature_count))


def _tree_thresholds(estimator: Any, feature_count: int) -> list[Array]:
    trees = []
    if hasattr(estimator, "tree_"):
        trees.append(estimator.tree_)
    for member in np.ravel(np.asarray(getattr(estimator, "estimators_", []), dtype=object)):
        tree = getattr(member, "tree_", None)
        if tree is not None:
            trees.append(tree)
    found: list[list[Array]] = [[] for _ in range(feature_count)]
    for tree in trees:
        features, thresholds = np.asarray(tree.feature), np.asarray(tree.threshold)
        for feature in range(feature_count):
            found[feature].append(thresholds[features == feature])
    return [np.unique(np.concatenate(values)) if values else np.empty(0) for values in found]


def _has_proba(model: Any) -> bool:
    try:
        return callable(getattr(model, "predict_proba", None))
    except Exception:  # available_if raises when the method does not apply to this configuration
        return False


def _short(error: BaseException) -> str:
    return " ".join(f"{type(error).__name__}: {error}".split())[:_MAX_REASON_CHARS]
