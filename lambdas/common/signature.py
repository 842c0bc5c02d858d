"""A model's signature: what a client sends it and what it answers, stored in ``metadata.json`` under ``signature``.

The loader derives it at publish time; the inference function reads it to decode requests and to describe the model.
Two kinds of input:

- ``tensor``: positional features, one 2-D array ``[rows, features]`` (a model fitted without column names), or
  ``[rows]`` strings for a text pipeline (``features`` is then None);
- ``columns``: named columns in the model's own order (``feature_names_in_``), each with a V2 datatype, or None for
  "any scalar" (strings or numbers, cast as pandas would).

Column datatypes come, in order of trust, from the uploaded sample, then the fitted pipeline itself (an encoder's
categories, a numeric transformer), else they stay "any scalar". Nothing here imports pandas: the sample arrives as
plain column lists.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from functools import cached_property
from typing import Any

import numpy as np

from lambdas.common.datatypes import datatype_of

FORMAT_VERSION = 1
TENSOR = "tensor"
COLUMNS = "columns"
PREDICT = "predict"
PREDICT_PROBA = "predict_proba"
COLUMN_DATATYPES = ("FP64", "INT64", "BOOL", "BYTES")


class SignatureError(ValueError):
    """A stored signature that this version cannot read."""


@dataclass(frozen=True)
class Column:
    name: str
    datatype: str | None  # one of COLUMN_DATATYPES, None: any scalar
    required: bool = True  # an optional column (MLflow's required: false) may be left out: all its values missing


@dataclass(frozen=True)
class Param:
    """One of the ``params`` an MLflow scoring request may carry, from the MLmodel's params schema."""

    name: str
    type: str  # MLflow's: string, boolean, double, float, long, integer, datetime, binary
    shape: tuple[int, ...] | None = None  # None: a scalar; (-1,): a list
    default: Any = None


@dataclass(frozen=True)
class Declared:
    """What a model's own schema states (an MLmodel signature): its columns in order with their datatypes (None:
    not a column schema), those it does not require, and its params schema (None: none)."""

    datatypes: Mapping[str, str | None] | None = None
    optional: frozenset[str] = frozenset()
    params: tuple[Param, ...] | None = None


@dataclass(frozen=True)
class Inputs:
    kind: str  # TENSOR or COLUMNS
    datatype: str = "FP64"  # of a tensor: FP64 for numbers, BYTES for a text pipeline
    features: int | None = None  # of a tensor; None for a 1-D text input
    columns: tuple[Column, ...] = ()

    @property
    def named(self) -> bool:
        return self.kind == COLUMNS

    @property
    def mixed(self) -> bool:
        """A positional tensor whose positions have datatypes of their own (a model fitted on an object array of
        strings and numbers); its ``columns`` are named by position."""
        return self.kind == TENSOR and bool(self.columns)

    # Read on every request: computed once per signature.
    @cached_property
    def names(self) -> tuple[str, ...]:
        return tuple(column.name for column in self.columns)

    @cached_property
    def optional(self) -> frozenset[str]:
        """The columns a request may leave out (all their values then missing)."""
        return frozenset(column.name for column in self.columns if not column.required)

    @cached_property
    def datatypes(self) -> Mapping[str, str | None]:
        """Each column's datatype by name; a name the model does not take is absent."""
        return {column.name: column.datatype for column in self.columns}


@dataclass(frozen=True)
class Output:
    name: str
    datatype: str
    shape: tuple[int, ...]  # (-1,) or (-1, k)


@dataclass(frozen=True)
class Provenance:
    estimator: str  # class path, e.g. sklearn.pipeline.Pipeline
    libraries: tuple[str, ...] = ()  # distributions the model's classes come from, e.g. ("scikit-learn", "xgboost")
    trained_with: Mapping[str, str] = field(default_factory=dict)  # library -> version the model was saved with
    served_with: Mapping[str, str] = field(default_factory=dict)  # library -> version serving it

    def mismatches(self) -> tuple[str, ...]:
        """Each library whose known training version is another minor version than the one serving the model,
        as ``"scikit-learn 1.6.1 (served by 1.9.1)"``: the case its authors do not support unpickling across."""
        found = []
        for library, trained in sorted(self.trained_with.items()):
            served = self.served_with.get(library)
            if served is not None and trained != "unknown" and _minor(trained) != _minor(served):
                found.append(f"{library} {trained} (served by {served})")
        return tuple(found)


@dataclass(frozen=True)
class Signature:
    inputs: Inputs
    outputs: tuple[Output, ...]
    classes: tuple[Any, ...] | None = None
    provenance: Provenance | None = None
    datatype_source: str = "model"  # where column datatypes came from: "mlflow", "sample" or "model"
    default_output: str = PREDICT  # what an MLflow scoring request answers with (MLmodel's predict_fn)
    params: tuple[Param, ...] | None = None  # the MLmodel's params schema; None: the model declares none

    def output(self, name: str) -> Output | None:
        return next((output for output in self.outputs if output.name == name), None)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["format"] = FORMAT_VERSION
        return data

    @classmethod
    def from_dict(cls, data: Any) -> Signature:
        if not isinstance(data, dict) or data.get("format") != FORMAT_VERSION:
            raise SignatureError(f"signature is not format {FORMAT_VERSION}")
        try:
            raw_inputs = data["inputs"]
            columns = tuple(
                Column(str(c["name"]), c["datatype"], bool(c.get("required", True)))
                for c in raw_inputs.get("columns") or ()
            )
            inputs = Inputs(
                kind=raw_inputs["kind"],
                datatype=raw_inputs.get("datatype", "FP64"),
                features=raw_inputs.get("features"),
                columns=columns,
            )
            outputs = tuple(Output(o["name"], o["datatype"], tuple(o["shape"])) for o in data["outputs"])
            classes = data.get("classes")
            raw_params = data.get("params")
            params = (
                tuple(
                    Param(
                        str(p["name"]),
                        str(p["type"]),
                        None if p.get("shape") is None else tuple(p["shape"]),
                        p.get("default"),
                    )
                    for p in raw_params
                )
                if isinstance(raw_params, list)
                else None
            )
            raw_provenance = data.get("provenance")
            provenance = (
                Provenance(
                    estimator=raw_provenance["estimator"],
                    libraries=tuple(raw_provenance.get("libraries") or ()),
                    trained_with=dict(raw_provenance.get("trained_with") or {}),
                    served_with=dict(raw_provenance.get("served_with") or {}),
                )
                if isinstance(raw_provenance, dict)
                else None
            )
        except (KeyError, TypeError, AttributeError) as error:
            raise SignatureError(f"signature is malformed: {error!r}") from None
        if inputs.kind not in (TENSOR, COLUMNS) or any(c.datatype not in (*COLUMN_DATATYPES, None) for c in columns):
            raise SignatureError("signature names an unknown input kind or column datatype")
        default_output = data.get("default_output", PREDICT)
        if default_output not in (PREDICT, PREDICT_PROBA):
            raise SignatureError(f"signature names an unknown default output {default_output!r}")
        return cls(
            inputs=inputs,
            outputs=outputs,
            classes=tuple(classes) if isinstance(classes, list) else None,
            provenance=provenance,
            datatype_source=str(data.get("datatype_source", "model")),
            default_output=default_output,
            params=params,
        )

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)


# --- deriving a signature from a fitted model ---


def column_names(model: Any) -> tuple[str, ...] | None:
    """The columns a model was fitted on (``feature_names_in_``), or None for a positional model."""
    names = getattr(model, "feature_names_in_", None)
    if names is None:
        return None
    try:
        return tuple(str(name) for name in np.asarray(names).tolist())
    except TypeError:
        return None


def model_inputs(
    model: Any,
    sample_columns: Mapping[str, Sequence[Any]] | None = None,
    declared: Declared | None = None,
) -> tuple[Inputs, str]:
    """The inputs of a fitted model and where the column datatypes came from; ``declared``: the columns an MLmodel
    signature states, in its order, with their datatypes, trusted first (``optional``: those it does not require).
    A positional model whose MLmodel names as many columns as it has features takes those columns, in that order."""
    stated_types = declared.datatypes if declared is not None else None
    optional = declared.optional if declared is not None else frozenset()
    names = column_names(model)
    counted = getattr(model, "n_features_in_", None)
    features = int(counted) if isinstance(counted, int | np.integer) and not isinstance(counted, bool) else None
    if names is None and stated_types and features is not None and len(stated_types) == features:
        names = tuple(stated_types)
    if names is None:
        if features is not None:
            positions = tuple(str(index) for index in range(features))
            by_position = fitted_column_datatypes(model, positions)
            if "BYTES" in by_position.values():  # fitted on an object array that mixes strings and numbers
                columns = tuple(Column(position, by_position.get(position)) for position in positions)
                return Inputs(kind=TENSOR, datatype="BYTES", features=features, columns=columns), "model"
            return Inputs(kind=TENSOR, datatype="FP64", features=features), "model"
        return Inputs(kind=TENSOR, datatype="BYTES", features=None), "model"
    from_model = fitted_column_datatypes(model, names)
    from_sample = sample_datatypes(sample_columns, names) if sample_columns is not None else {}
    stated = {name: datatype for name, datatype in (stated_types or {}).items() if datatype is not None}
    columns = tuple(
        Column(name, stated.get(name) or from_sample.get(name) or from_model.get(name), name not in optional)
        for name in names
    )
    source = "mlflow" if stated.keys() & set(names) else "sample" if from_sample else "model"
    return Inputs(kind=COLUMNS, columns=columns), source


def sample_datatypes(sample: Mapping[str, Sequence[Any]], names: Iterable[str]) -> dict[str, str]:
    """Datatypes of the sample's columns, as JSON types tell them (all missing: not known)."""
    found = {}
    for name in names:
        values = [value for value in sample.get(name, ()) if value is not None and value == value]
        if not values:
            continue
        if all(isinstance(value, bool) for value in values):
            found[name] = "BOOL"
        elif all(isinstance(value, int) and not isinstance(value, bool) for value in values):
            found[name] = "INT64"
        elif all(isinstance(value, int | float) and not isinstance(value, bool) for value in values):
            found[name] = "FP64"
        elif all(isinstance(value, str) for value in values):
            found[name] = "BYTES"
    return found


def fitted_column_datatypes(model: Any, names: Sequence[str]) -> dict[str, str]:
    """Per-column datatypes the fitted model itself reveals; columns it says nothing about are left out."""
    found: dict[str, str] = {}
    for transformer, selected in _column_transformers(model, names):
        datatypes = _transformer_datatypes(transformer, len(selected))
        if all(datatype is None for datatype in datatypes) and _is_numeric_estimator(transformer):
            datatypes = ["FP64"] * len(selected)
        for name, datatype in zip(selected, datatypes, strict=True):
            if datatype is not None:
                found[name] = datatype
    return found


def fitted_column_examples(model: Any, names: Sequence[str]) -> dict[str, Any]:
    """A value the fitted model knows for each column it encodes (an encoder's first category)."""
    return {name: values[0] for name, values in fitted_column_categories(model, names).items()}


def fitted_column_categories(model: Any, names: Sequence[str]) -> dict[str, list[Any]]:
    """The values the fitted model's encoders know, by column (missing values left out)."""
    found: dict[str, list[Any]] = {}
    for transformer, selected in _column_transformers(model, names):
        categories = _categories(transformer, len(selected))
        for name, values in zip(selected, categories or (), strict=False):
            known = [value for value in np.asarray(values).tolist() if value is not None and value == value]
            if known:
                found[name] = known
    return found


def _column_transformers(model: Any, names: Sequence[str]) -> list[tuple[Any, list[str]]]:
    """The first transformer each column meets: a ColumnTransformer's parts, else the model's first step."""
    first = _first_step(model)
    transformers = getattr(first, "transformers_", None)
    if isinstance(transformers, list):
        return [(transformer, _selected_columns(selection, names)) for _, transformer, selection in transformers]
    return [(first, list(names))]


def _categories(transformer: Any, count: int) -> list[Any] | None:
    steps = getattr(transformer, "steps", None)
    if isinstance(steps, list):
        for _, step in steps:
            found = _categories(step, count)
            if found is not None:
                return found
        return None
    categories = getattr(transformer, "categories_", None)
    return categories if isinstance(categories, list) and len(categories) == count else None


def _first_step(model: Any) -> Any:
    while isinstance(getattr(model, "steps", None), list) and model.steps:
        model = model.steps[0][1]
    return model


def _selected_columns(selection: Any, names: Sequence[str]) -> list[str]:
    if isinstance(selection, str):
        return [selection] if selection in names else []
    if isinstance(selection, int | np.integer):
        return [names[int(selection)]]
    try:
        items = list(np.asarray(selection).reshape(-1))
    except (TypeError, ValueError):
        return []
    if items and all(isinstance(item, bool | np.bool_) for item in items):
        return [name for name, chosen in zip(names, items, strict=False) if chosen]
    chosen = []
    for item in items:
        if isinstance(item, int | np.integer) and not isinstance(item, bool | np.bool_):
            chosen.append(names[int(item)])
        elif str(item) in names:
            chosen.append(str(item))
    return chosen


def _transformer_datatypes(transformer: Any, count: int) -> list[str | None]:
    """What a transformer says of the type of each of its ``count`` input columns (None: it does not say)."""
    if isinstance(transformer, str):  # "drop" or "passthrough"
        return [None] * count
    steps = getattr(transformer, "steps", None)
    if isinstance(steps, list) and steps:
        for _, step in steps:
            datatypes = _transformer_datatypes(step, count)
            if any(datatype is not None for datatype in datatypes):
                return datatypes
        return [None] * count
    categories = getattr(transformer, "categories_", None)
    if isinstance(categories, list) and len(categories) == count:
        return [_datatype_of_values(np.asarray(values)) for values in categories]
    statistics = getattr(transformer, "statistics_", None)  # SimpleImputer
    if isinstance(statistics, np.ndarray) and statistics.shape == (count,):
        if statistics.dtype.kind == "O":
            return [_datatype_of_values(np.asarray([value])) for value in statistics]
        return ["FP64"] * count
    if callable(getattr(transformer, "build_analyzer", None)):  # a text vectorizer on one column
        return ["BYTES"] * count
    if _is_numeric_estimator(transformer):
        return ["FP64"] * count
    return [None] * count


def _datatype_of_values(values: np.ndarray) -> str | None:
    kind = values.dtype.kind
    if kind in "OUS":
        present = [value for value in values.tolist() if value is not None and value == value]
        if present and all(isinstance(value, str) for value in present):
            return "BYTES"
        if present and all(isinstance(value, int | float) and not isinstance(value, bool) for value in present):
            return "FP64"
        return None
    if kind == "b":
        return "BOOL"
    if kind in "iu":
        return "INT64"
    if kind == "f":
        return "FP64"
    return None


_NUMERIC_MODULES = (
    "sklearn.preprocessing",
    "sklearn.impute",
    "sklearn.decomposition",
    "sklearn.linear_model",
    "sklearn.ensemble",
    "sklearn.tree",
    "sklearn.svm",
    "sklearn.neighbors",
    "sklearn.naive_bayes",
    "sklearn.neural_network",
    "sklearn.kernel_approximation",
    "sklearn.cluster",
    "sklearn.feature_selection",
    "xgboost",
    "lightgbm",
)
_NON_NUMERIC = ("OneHotEncoder", "OrdinalEncoder", "TargetEncoder", "FunctionTransformer", "LabelEncoder")


def _is_numeric_estimator(estimator: Any) -> bool:
    """Estimators that take numbers only, so a column fed straight to them is FP64."""
    cls = type(estimator)
    return cls.__name__ not in _NON_NUMERIC and cls.__module__.startswith(_NUMERIC_MODULES)


def outputs_from_answers(
    predict: np.ndarray, proba: np.ndarray | None, classes: Any
) -> tuple[tuple[Output, ...], tuple[Any, ...] | None]:
    """Output descriptions from what the model answered on probe rows."""
    outputs = [Output(PREDICT, datatype_of(predict.dtype), (-1,) if predict.ndim == 1 else (-1, predict.shape[1]))]
    labels = None
    if classes is not None:
        as_array = np.asarray(classes)
        if as_array.ndim == 1:
            labels = tuple(as_array.tolist())
    if proba is not None:
        outputs.append(Output(PREDICT_PROBA, "FP64", (-1, proba.shape[1])))
    return tuple(outputs), labels


def fallback(
    feature_count: int | None,
    names: tuple[str, ...] | None,
    label_datatype: str,
    class_count: int | None,
    has_proba: bool,
    predict_ndim: int = 1,
    targets: int | None = None,
) -> Signature:
    """A signature for a version published without one (an older loader), from what its runner tells."""
    if names is not None:
        inputs = Inputs(kind=COLUMNS, columns=tuple(Column(name, None) for name in names))
    elif feature_count is not None:
        inputs = Inputs(kind=TENSOR, datatype="FP64", features=feature_count)
    else:
        inputs = Inputs(kind=TENSOR, datatype="BYTES", features=None)
    shape = (-1,) if predict_ndim == 1 else (-1, targets or -1)
    outputs = [Output(PREDICT, label_datatype, shape)]
    if has_proba and class_count is not None:
        outputs.append(Output(PREDICT_PROBA, "FP64", (-1, class_count)))
    return Signature(inputs=inputs, outputs=tuple(outputs))


def _minor(version: str) -> tuple[int, ...] | str:
    from packaging.version import InvalidVersion, Version

    try:
        return Version(version).release[:2]
    except InvalidVersion:
        return version
