"""The request bodies of the API parsed once into typed requests: the Open Inference Protocol (V2), KServe V1,
MLflow's scoring protocol and the original format. Only the structure is checked here; what the data means is the
codecs' job, against the model.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from lambdas.inference.errors import BadRequest
from lambdas.inference.tensors import DATATYPES

PREDICT = "predict"
PREDICT_PROBA = "predict_proba"
OUTPUT_NAMES = (PREDICT, PREDICT_PROBA)
_DEFAULT_OUTPUTS = (PREDICT,)
_KNOWN_DATATYPES = frozenset(DATATYPES)
_NO_PARAMETERS: Mapping[str, Any] = {}
# The request records below are built for every request and never changed afterwards: plain slotted dataclasses,
# which take half the time of frozen ones to build.


@dataclass(slots=True)
class RequestInput:
    """One V2 input tensor: its declared name, shape and datatype, and its data as sent (flat or nested), or as the
    array or strings the binary extension decoded."""

    name: str
    shape: tuple[int, ...]
    datatype: str
    data: list[Any] | np.ndarray
    parameters: Mapping[str, Any]

    @property
    def content_type(self) -> str | None:
        return _content_type(self.parameters)


@dataclass(slots=True)
class InferRequest:
    """A V2 inference request."""

    id: str | None
    inputs: tuple[RequestInput, ...]
    outputs: tuple[str, ...]
    parameters: Mapping[str, Any]

    @property
    def content_type(self) -> str | None:
        return _content_type(self.parameters)


@dataclass(slots=True)
class RowsRequest:
    """V1 ``instances`` or the original format's ``inputs``: rows as lists, scalars or records."""

    rows: list[Any]
    field: str


@dataclass(slots=True)
class ColumnsRequest:
    """Values by column: MLflow's ``dataframe_split`` and ``inputs`` as an object, or a CSV body. ``text``: the
    values are a CSV's strings, typed by the model's signature."""

    columns: Mapping[str, list[Any]]
    field: str
    text: bool = False


@dataclass(slots=True)
class ScoringRequest:
    """An MLflow scoring request (``/invocations``): rows or columns, and its ``params``."""

    data: RowsRequest | ColumnsRequest
    params: Mapping[str, Any]


MLFLOW_FIELDS = ("dataframe_split", "dataframe_records", "instances", "inputs")


@dataclass(slots=True)
class OriginalRequest:
    name: str
    version: str | None
    rows: RowsRequest


def _content_type(parameters: Mapping[str, Any]) -> str | None:
    """The Open Inference Protocol's ``parameters.content_type``, of a request or of one input."""
    value = parameters.get("content_type")
    return value if isinstance(value, str) else None


def _check_content_type(parameters: Mapping[str, Any], where: str) -> None:
    if "content_type" in parameters and not isinstance(parameters["content_type"], str):
        raise BadRequest(f"{where} 'content_type' must be a string")


def parse_v2(body: Mapping[str, Any]) -> InferRequest:
    request_id = body.get("id")
    if "id" in body and not isinstance(request_id, str):
        raise BadRequest("'id' must be a string")
    parameters = body.get("parameters", _NO_PARAMETERS)
    if not isinstance(parameters, dict):
        raise BadRequest("'parameters' must be an object")
    _check_content_type(parameters, "'parameters'")
    outputs = _requested_outputs(body["outputs"]) if "outputs" in body else _DEFAULT_OUTPUTS
    inputs = body.get("inputs")
    if not isinstance(inputs, list) or not inputs:
        raise BadRequest("'inputs' must be a non-empty list of tensors")
    return InferRequest(
        id=request_id, inputs=tuple(_input(tensor) for tensor in inputs), outputs=outputs, parameters=parameters
    )


def parse_v1(body: Mapping[str, Any]) -> RowsRequest:
    return _rows(body.get("instances"), "instances")


def parse_original(body: Mapping[str, Any]) -> OriginalRequest:
    name = body.get("name")
    if not isinstance(name, str):
        raise BadRequest("'name' must be the model name as a string")
    return OriginalRequest(name=name, version=_version_field(body), rows=_rows(body.get("inputs"), "inputs"))


def parse_mlflow(body: Mapping[str, Any]) -> ScoringRequest:
    """MLflow's JSON scoring bodies: exactly one of ``MLFLOW_FIELDS``, and optionally ``params``."""
    params = body.get("params", _NO_PARAMETERS)
    if not isinstance(params, dict):
        raise BadRequest("'params' must be an object")
    fields = [name for name in body if name != "params"]
    if len(fields) != 1 or fields[0] not in MLFLOW_FIELDS:
        raise BadRequest(
            f"the body must hold exactly one of {', '.join(MLFLOW_FIELDS)} (and optionally params), got {fields}"
        )
    field, value = fields[0], body[fields[0]]
    if field == "dataframe_split":
        return ScoringRequest(_split(value), params)
    if field in ("instances", "inputs") and isinstance(value, dict):
        return ScoringRequest(_columns(value, field), params)
    if field == "dataframe_records" and not (isinstance(value, list) and all(isinstance(r, dict) for r in value)):
        raise BadRequest("'dataframe_records' must be a list of records ({column: value})")
    return ScoringRequest(_rows(value, field), params)


def parse_csv(text: str) -> ScoringRequest:
    """A ``text/csv`` scoring body: a header row naming the columns, then one row per record."""
    try:
        table = list(csv.reader(io.StringIO(text, newline="")))
    except csv.Error as error:
        raise BadRequest(f"the CSV body does not parse: {error}") from None
    table = [row for row in table if row]
    if len(table) < 2:
        raise BadRequest("a CSV body needs a header row and at least one row of values")
    header, rows = table[0], table[1:]
    for number, row in enumerate(rows, start=2):
        if len(row) != len(header):
            raise BadRequest(f"CSV line {number} has {len(row)} values for {len(header)} columns")
    if len(set(header)) != len(header):
        raise BadRequest("the CSV header names a column twice")
    columns = {name: [row[index] or None for row in rows] for index, name in enumerate(header)}
    return ScoringRequest(ColumnsRequest(columns, "csv", text=True), _NO_PARAMETERS)


def _split(value: Any) -> RowsRequest | ColumnsRequest:
    """A pandas ``split`` frame: ``columns`` and ``data`` (its ``index`` plays no part in a prediction)."""
    if not isinstance(value, dict) or not isinstance(value.get("data"), list) or not value["data"]:
        raise BadRequest("'dataframe_split' must be an object with a non-empty 'data' list of rows")
    data, names = value["data"], value.get("columns")
    if not all(isinstance(row, list) for row in data):
        raise BadRequest("'dataframe_split.data' must be a list of rows")
    if names is None:
        return RowsRequest(rows=data, field="dataframe_split")
    if not isinstance(names, list) or not all(isinstance(name, str) for name in names):
        raise BadRequest("'dataframe_split.columns' must be a list of column names")
    for number, row in enumerate(data):
        if len(row) != len(names):
            raise BadRequest(f"row {number} of 'dataframe_split.data' has {len(row)} values for {len(names)} columns")
    if len(set(names)) != len(names):
        raise BadRequest("'dataframe_split.columns' names a column twice")
    return ColumnsRequest({name: [row[index] for row in data] for index, name in enumerate(names)}, "dataframe_split")


def _columns(value: dict[str, Any], field: str) -> ColumnsRequest:
    if not value or not all(isinstance(column, list) for column in value.values()):
        raise BadRequest(f"'{field}' as an object must map each column to a list of values")
    return ColumnsRequest(value, field)


def parse_index(body: Mapping[str, Any]) -> bool:
    """The repository index request: whether only ready models are asked for."""
    ready_only = body.get("ready", False)
    if not isinstance(ready_only, bool):
        raise BadRequest("'ready' must be true or false")
    return ready_only


def _input(tensor: Any) -> RequestInput:
    if not isinstance(tensor, dict):
        raise BadRequest("each input must be an object with name, shape, datatype and data")
    name = tensor.get("name")
    if not isinstance(name, str):
        raise BadRequest("input 'name' must be a string")
    parameters = tensor.get("parameters", _NO_PARAMETERS)
    if not isinstance(parameters, dict):
        raise BadRequest("input 'parameters' must be an object")
    _check_content_type(parameters, "input 'parameters'")
    shape = tensor.get("shape")
    if not isinstance(shape, list) or not 1 <= len(shape) <= 2:
        raise BadRequest("input 'shape' must be [rows, features] (or [rows] for one column or a text model)")
    for size in shape:
        if not isinstance(size, int) or isinstance(size, bool) or size < 1:
            raise BadRequest(f"input 'shape' must hold positive integers, got {shape}")
    datatype = tensor.get("datatype")
    if not isinstance(datatype, str) or datatype not in _KNOWN_DATATYPES:
        raise BadRequest(f"input 'datatype' must be one of {', '.join(DATATYPES)}")
    data = tensor.get("data")
    if not isinstance(data, list | np.ndarray):
        raise BadRequest("input 'data' must be a list, flat or nested")
    return RequestInput(name=name, shape=tuple(shape), datatype=datatype, data=data, parameters=parameters)


def _rows(rows: Any, field: str) -> RowsRequest:
    if not isinstance(rows, list) or not rows:
        raise BadRequest(f"'{field}' must be a non-empty list of rows")
    return RowsRequest(rows=rows, field=field)


def _requested_outputs(outputs: Any) -> tuple[str, ...]:
    if not isinstance(outputs, list):
        raise BadRequest("'outputs' must be a list of {\"name\": ...} objects")
    names = []  # none asked for means predict only
    for output in outputs:
        name = output.get("name") if isinstance(output, dict) else None
        if name not in OUTPUT_NAMES:
            raise BadRequest(f'each output must be {{"name": ...}} with a name in {list(OUTPUT_NAMES)}')
        if not isinstance(output.get("parameters", {}), dict):
            raise BadRequest("output 'parameters' must be an object")
        if name not in names:
            names.append(name)
    return tuple(names) or _DEFAULT_OUTPUTS


def _version_field(request: Mapping[str, Any]) -> str | None:
    if "version" not in request:
        return None
    version = request["version"]
    if isinstance(version, int) and not isinstance(version, bool):
        return str(version)
    if isinstance(version, str):
        return version
    raise BadRequest("'version' must be a positive integer")
