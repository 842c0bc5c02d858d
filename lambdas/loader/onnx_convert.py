"""The ONNX fast path, publish side: convert a model with skl2onnx and keep the conversion only when it answers as
scikit-learn does on a probe set.

The probe set is the model's own ``sample.json`` or ``sample.npy`` when one was uploaded beside it; otherwise rows
are generated: zeros, normal rows at three scales and, where they exist, rows placed where implementations part
ways: exactly on tree thresholds and one float32 step either side (a conversion that rounds differently branches the
other way), and on the points a model keeps, such as a neighbours model's training rows (where distances tie). The
conversion passes when every label is equal and every probability is within ``TOLERANCE`` (regression values: within
``TOLERANCE``, relative or absolute).

Conversions are tried in order: float64 input, then float64 with the tree operators of ai.onnx.ml opset 3, then
float32 input, then float32 with opset 3 (the inference function casts to what the graph takes). scikit-learn's and
XGBoost's trees compare float32 features with their thresholds, so in float64 graphs each tree's input is first
rounded to float32 as they round it. LightGBM compares in float64: its float32 graph is kept only where the probe
rows (its sample's, or rows placed on its splits) answer alike.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from lambdas.common.libraries import has_method
from lambdas.common.onnx_interface import METADATA_KEY, OnnxInterface, column_feeds, open_session
from lambdas.common.reasons import reason
from lambdas.common.signature import Inputs
from lambdas.loader import samples
from lambdas.loader.families import split_thresholds
from lambdas.loader.samples import MAX_SAMPLE_BYTES, MAX_SAMPLE_ROWS

TOLERANCE = 1e-5
_ROWS_PER_SCALE = 128
_THRESHOLD_ROWS = 512
_SCALES = (1.0, 10.0, 1000.0)

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


_CANDIDATES = (
    _Candidate("float64", None),
    _Candidate("float64", 3),
    _Candidate("float32", None),
    _Candidate("float32", 3),  # XGBoost and LightGBM: onnxmltools writes float32 trees of ai.onnx.ml opset 3
)


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
        with warnings.catch_warnings():  # e.g. a model fitted on a DataFrame asked about a matrix, as ONNX will be
            warnings.simplefilter("ignore", UserWarning)
            answers = {"predict": np.asarray(model.predict(probe.rows))}
            proba = model.predict_proba(probe.rows) if has_method(model, "predict_proba") else None
    except Exception as error:  # the model refuses rows of this shape: nothing to compare a conversion with
        raise NotConverted(f"the model does not accept the {probe.source} probe rows: {reason(error)}") from None
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
    session, wanted = _session(onnx_model, expected)
    input_name = session.get_inputs()[0].name
    try:
        answers = session.run(list(wanted.values()), {input_name: probe.rows.astype(input_dtype)})
    except Exception as error:
        raise NotConverted(f"onnxruntime fails on the probe rows: {reason(error)}") from None
    details = _compare(expected, dict(zip(wanted, answers, strict=True)))
    missing_refusal, missing_checked = _missing_values(model, session, wanted, input_name, input_dtype, probe)
    details["missing_values"] = (
        "refused by the model" if missing_refusal else "fast path" if missing_checked else "scikit-learn"
    )
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
        missing_refusal=missing_refusal,
        missing_checked=missing_checked,
    )
    entry = onnx_model.metadata_props.add()
    entry.key, entry.value = METADATA_KEY, interface.to_json()
    details.update(conversion=candidate.label, probe=probe.source, probe_rows=len(probe.rows))
    return Conversion(onnx=onnx_model.SerializeToString(), interface=interface, details=details)


def _missing_values(
    model: Any, session: Any, wanted: dict[str, str], input_name: str, input_dtype: Any, probe: Probe
) -> tuple[str | None, bool]:
    """How the model takes rows with missing values: its own refusal (None: it answers them), and whether the
    conversion answers them alike (else such rows are served by scikit-learn)."""
    import sklearn

    rows = probe.rows[:_ROWS_PER_SCALE].copy()
    rng = np.random.default_rng(1)
    rows[rng.random(rows.shape) < 0.3] = np.nan
    rows[0, :] = np.nan
    try:
        with sklearn.config_context(assume_finite=False), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model.predict(rows)
    except Exception as error:  # the model's own refusal, quoted to clients that send such rows
        return reason(error, with_type=False), False
    try:
        with sklearn.config_context(assume_finite=False), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            expected = _expected_answers(model, Probe(rows=rows, source=probe.source))
        answers = session.run(list(wanted.values()), {input_name: rows.astype(input_dtype)})
        _compare(expected, dict(zip(wanted, answers, strict=True)))
    except (NotConverted, Exception):  # onnxruntime errors too: such rows are served by scikit-learn
        return None, False
    return None, True


# --- DataFrame pipelines: one graph input per column ---


def convert_frame(model: Any, inputs: Inputs, rows: list[dict[str, Any]], source: str) -> Conversion:
    """A conversion of a model fitted on named columns, taking each column as a graph input of its own (strings as
    string tensors), kept when it answers as the model does on ``rows`` (records), fed exactly as the inference
    function feeds it. Rows with missing values are always answered by scikit-learn."""
    from lambdas.common.codecs import decode_rows
    from lambdas.common.errors import InferenceError
    from lambdas.common.payloads import RowsRequest

    columns = []
    for column in inputs.columns:
        if column.datatype not in ("FP64", "INT64", "BYTES"):
            raise NotConverted(f"column {column.name!r} has no datatype a conversion can take ({column.datatype})")
        columns.append((column.name, "str" if column.datatype == "BYTES" else "float64"))
    try:
        batch = decode_rows(RowsRequest(rows=rows, field=source), inputs)
    except InferenceError as error:
        raise NotConverted(f"the {source} probe rows do not fit the model: {error.message}") from None
    if batch.columns is None or batch.missing:
        raise NotConverted(f"the {source} probe rows must be complete records")
    expected = _expected_frame_answers(model, batch, source)
    failures = []
    for candidate in _CANDIDATES[:2]:  # float64 inputs: a string column cannot be fed as float32
        try:
            return _convert_frame(model, tuple(columns), batch.columns, expected, candidate, source, len(rows))
        except NotConverted as error:
            failures.append(f"{candidate.label}: {error}")
    raise NotConverted("; ".join(failures))


def _expected_frame_answers(model: Any, batch: Any, source: str) -> dict[str, Array]:
    from lambdas.common.runtimes import SklearnRunner

    runner = SklearnRunner(model)
    try:
        answers = {"predict": runner.predict(batch)}
        if runner.has_proba:
            answers["predict_proba"] = runner.predict_proba(batch).astype(np.float64)
    except Exception as error:  # the model refuses these rows: nothing to compare a conversion with
        raise NotConverted(f"the model does not accept the {source} probe rows: {reason(error)}") from None
    return answers


def _convert_frame(
    model: Any,
    columns: tuple[tuple[str, str], ...],
    values: Any,
    expected: dict[str, Array],
    candidate: _Candidate,
    source: str,
    row_count: int,
) -> Conversion:
    from skl2onnx import get_latest_tested_opset_version, to_onnx
    from skl2onnx.common.data_types import DoubleTensorType, StringTensorType
    from sklearn.base import is_classifier

    initial_types = [
        (name, StringTensorType([None, 1]) if dtype == "str" else DoubleTensorType([None, 1]))
        for name, dtype in columns
    ]
    opset: dict[str, int] | None = None
    if candidate.ml_opset is not None:
        opset = {"": get_latest_tested_opset_version(), "ai.onnx.ml": candidate.ml_opset}
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            onnx_model = to_onnx(
                model,
                initial_types=initial_types,
                options={"zipmap": False} if is_classifier(model) else None,
                target_opset=opset,
            )
    except Exception as error:  # converters raise many kinds of errors for what they do not support
        raise NotConverted(f"skl2onnx cannot convert it: {reason(error)}") from None
    _round_tree_inputs_to_float32(onnx_model)
    session, wanted = _session(onnx_model, expected)
    predict = expected["predict"]
    interface = OnnxInterface(
        input_name="",
        input_dtype="float64",
        feature_count=len(columns),
        predict_output=wanted["predict"],
        predict_dtype="str" if predict.dtype.kind in "OUS" else predict.dtype.name,
        predict_ndim=predict.ndim,
        proba_output=wanted.get("predict_proba"),
        class_count=expected["predict_proba"].shape[1] if "predict_proba" in expected else None,
        columns=columns,
    )
    try:
        answers = session.run(list(wanted.values()), column_feeds(values, interface))
    except Exception as error:
        raise NotConverted(f"onnxruntime fails on the probe rows: {reason(error)}") from None
    details = _compare(expected, dict(zip(wanted, answers, strict=True)))
    details["missing_values"] = "scikit-learn"
    entry = onnx_model.metadata_props.add()
    entry.key, entry.value = METADATA_KEY, interface.to_json()
    details.update(conversion=f"{candidate.label}, one input per column", probe=source, probe_rows=row_count)
    return Conversion(onnx=onnx_model.SerializeToString(), interface=interface, details=details)


def generated_frame_rows(model: Any, inputs: Inputs) -> list[dict[str, Any]]:
    """Records for a model fitted on named columns, uploaded without a sample: numbers at three scales, and the
    categories the model's encoders know for string columns, drawn at random."""
    from lambdas.common.signature import fitted_column_categories

    rng = np.random.default_rng(0)
    known = fitted_column_categories(model, inputs.names)
    rows: list[dict[str, Any]] = []
    for scale in _SCALES:
        for _ in range(_ROWS_PER_SCALE // 2):
            row: dict[str, Any] = {}
            for column in inputs.columns:
                if column.datatype == "BYTES":
                    choices = known.get(column.name) or ["a", "b"]
                    row[column.name] = str(choices[int(rng.integers(0, len(choices)))])
                elif column.datatype == "INT64":
                    row[column.name] = int(rng.integers(-int(scale), int(scale) + 1))
                else:
                    row[column.name] = float(rng.normal(0.0, scale))
            rows.append(row)
    return rows


def _session(onnx_model: Any, expected: dict[str, Array]) -> tuple[Any, dict[str, str]]:
    """An onnxruntime session over a conversion, opened as the inference function opens it, and the graph outputs
    that answer each of the model's methods."""
    try:
        session = open_session(onnx_model.SerializeToString())
    except Exception as error:
        raise NotConverted(f"onnxruntime cannot open the conversion: {reason(error)}") from None
    outputs = [output.name for output in session.get_outputs()]
    wanted = {"predict": outputs[0]}
    if "predict_proba" in expected:
        if len(outputs) < 2:
            raise NotConverted("the conversion has no probabilities output")
        wanted["predict_proba"] = outputs[1]
    return session, wanted


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
        raise NotConverted(f"skl2onnx cannot convert it: {reason(error)}") from None
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


def read_sample(data: bytes, filename: str, feature_count: int, names: tuple[str, ...] | None = None) -> Probe:
    """A probe set from an uploaded sample (see ``samples``): its rows as numbers, records in the order of the
    model's columns ``names``."""
    if len(data) > MAX_SAMPLE_BYTES:
        raise NotConverted(f"{filename} is larger than {MAX_SAMPLE_BYTES} bytes")
    try:
        sample = samples.parse(samples.SampleFile(filename=filename, data=data), check_rows=False)
    except samples.SampleError as error:
        raise NotConverted(str(error)) from None
    rows: Any = sample.rows
    if sample.records:
        if names is None:
            raise NotConverted(f"{filename} holds records, but the model was not fitted on named columns")
        rows = [[row.get(name) for name in names] for row in sample.rows]
    try:
        array = np.asarray(rows)
    except Exception as error:  # ragged rows
        raise NotConverted(f"{filename} does not parse: {reason(error)}") from None
    if array.ndim != 2 or array.shape[1] != feature_count or not 1 <= array.shape[0] <= MAX_SAMPLE_ROWS:
        raise NotConverted(
            f"{filename} must hold 1 to {MAX_SAMPLE_ROWS} rows of {feature_count} features, got shape {array.shape}"
        )
    if array.dtype.kind not in "iuf" or not np.isfinite(array).all():
        raise NotConverted(f"{filename} must hold finite numbers only")
    return Probe(rows=array.astype(np.float64), source=filename)


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
    family = split_thresholds(estimator, feature_count)
    if family is not None:
        return [np.unique(np.asarray(values, dtype=np.float64)) for values in family]
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
