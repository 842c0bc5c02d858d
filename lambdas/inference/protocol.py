"""The request bodies of the API parsed once into typed requests: the Open Inference Protocol (V2), KServe V1,
MLflow's scoring protocol and the original format, a binary V2 body becoming the same ``InferRequest`` a JSON one
does; and the typed answers rendered back as each protocol writes them. Only the structure is checked here; what
the data means is the codecs' job, against the model.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from lambdas.common.datatypes import DATATYPES, KNOWN_DATATYPES
from lambdas.common.errors import BadRequest
from lambdas.common.payloads import (
    NO_PARAMETERS,
    ColumnsRequest,
    InferRequest,
    OutputTensor,
    RequestInput,
    RowsRequest,
)
from lambdas.common.signature import PREDICT, PREDICT_PROBA
from lambdas.common.tensors import element_count, json_values
from lambdas.inference import binary
from lambdas.inference.binary import BinaryAnswer, BinaryBody

OUTPUT_NAMES = (PREDICT, PREDICT_PROBA)
_DEFAULT_OUTPUTS = (PREDICT,)


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


def _check_content_type(parameters: Mapping[str, Any], where: str) -> None:
    if "content_type" in parameters and not isinstance(parameters["content_type"], str):
        raise BadRequest(f"{where} 'content_type' must be a string")


def parse_v2(body: Mapping[str, Any], binary_body: BinaryBody | None = None) -> InferRequest:
    """A V2 inference request from its JSON object; with ``binary_body`` (the binary extension), the inputs that
    declare ``parameters.binary_data_size`` take their data from its bytes, in input order, and every byte must be
    taken."""
    request_id = body.get("id")
    if "id" in body and not isinstance(request_id, str):
        raise BadRequest("'id' must be a string")
    parameters = body.get("parameters", NO_PARAMETERS)
    if not isinstance(parameters, dict):
        raise BadRequest("'parameters' must be an object")
    _check_content_type(parameters, "'parameters'")
    outputs, binary_outputs = _requested_outputs(body["outputs"]) if "outputs" in body else (_DEFAULT_OUTPUTS, ())
    if parameters.get("binary_data_output") is True:
        binary_outputs = outputs
    inputs = body.get("inputs")
    if not isinstance(inputs, list) or not inputs:
        raise BadRequest("'inputs' must be a non-empty list of tensors")
    parsed = tuple(_input(tensor, binary_body) for tensor in inputs)
    if binary_body is not None:
        binary_body.check_all_read()
    return InferRequest(
        id=request_id,
        inputs=parsed,
        outputs=outputs,
        parameters=parameters,
        binary_outputs=frozenset(binary_outputs),
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
    params = body.get("params", NO_PARAMETERS)
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
    return ScoringRequest(ColumnsRequest(columns, "csv", text=True), NO_PARAMETERS)


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


def _input(tensor: Any, binary_body: BinaryBody | None) -> RequestInput:
    if not isinstance(tensor, dict):
        raise BadRequest("each input must be an object with name, shape, datatype and data")
    name = tensor.get("name")
    if not isinstance(name, str):
        raise BadRequest("input 'name' must be a string")
    parameters = tensor.get("parameters", NO_PARAMETERS)
    if not isinstance(parameters, dict):
        raise BadRequest("input 'parameters' must be an object")
    _check_content_type(parameters, "input 'parameters'")
    shape = tensor.get("shape")
    if not isinstance(shape, list) or not 1 <= len(shape) <= 2:
        raise BadRequest("input 'shape' must be [rows, features] (or [rows] for one column or a text model)")
    for size in shape:
        if not isinstance(size, int) or isinstance(size, bool) or size < 1:
            raise BadRequest(f"input 'shape' must hold positive integers, got {shape}")
    count = element_count(shape)
    datatype = tensor.get("datatype")
    if not isinstance(datatype, str) or datatype not in KNOWN_DATATYPES:
        raise BadRequest(f"input 'datatype' must be one of {', '.join(DATATYPES)}")
    size = parameters.get("binary_data_size") if binary_body is not None else None
    if size is not None and binary_body is not None:
        if "data" in tensor:
            raise BadRequest("an input with binary_data_size must not also carry data")
        data: Any = binary_body.read(size, datatype, shape, count)
    else:
        data = tensor.get("data")
        if not isinstance(data, list | np.ndarray):
            raise BadRequest("input 'data' must be a list, flat or nested")
    return RequestInput(name=name, shape=tuple(shape), datatype=datatype, data=data, parameters=parameters)


def _rows(rows: Any, field: str) -> RowsRequest:
    if not isinstance(rows, list) or not rows:
        raise BadRequest(f"'{field}' must be a non-empty list of rows")
    return RowsRequest(rows=rows, field=field)


def _requested_outputs(outputs: Any) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The outputs asked for (predict when none is), and those asked for as binary data one by one."""
    if not isinstance(outputs, list):
        raise BadRequest("'outputs' must be a list of {\"name\": ...} objects")
    names: list[str] = []
    binary_names: list[str] = []
    for output in outputs:
        name = output.get("name") if isinstance(output, dict) else None
        if name not in OUTPUT_NAMES:
            raise BadRequest(f'each output must be {{"name": ...}} with a name in {list(OUTPUT_NAMES)}')
        options = output.get("parameters", NO_PARAMETERS)
        if not isinstance(options, dict):
            raise BadRequest("output 'parameters' must be an object")
        if name not in names:
            names.append(name)
        if options.get("binary_data") is True:
            binary_names.append(name)
    return tuple(names) or _DEFAULT_OUTPUTS, tuple(binary_names)


def _version_field(request: Mapping[str, Any]) -> str | None:
    if "version" not in request:
        return None
    version = request["version"]
    if isinstance(version, int) and not isinstance(version, bool):
        return str(version)
    if isinstance(version, str):
        return version
    raise BadRequest("'version' must be a positive integer")


# --- answers ---


@dataclass(slots=True)
class InferAnswer:
    """A V2 answer: the version that served, the request's id, each output asked for, and those wanted as binary."""

    model_name: str
    model_version: int
    id: str | None
    outputs: tuple[OutputTensor, ...]
    binary_outputs: frozenset[str]


def render_v2(answer: InferAnswer) -> dict[str, Any] | BinaryAnswer:
    """The V2 answer as the client asked for it: JSON, or a JSON header followed by the binary outputs' bytes."""
    head: dict[str, Any] = {"model_name": answer.model_name, "model_version": str(answer.model_version)}
    if answer.id is not None:
        head["id"] = answer.id
    if answer.binary_outputs:
        return binary.answer(head, answer.outputs, answer.binary_outputs, output_json)
    head["outputs"] = [output_json(tensor) for tensor in answer.outputs]
    return head


def output_json(tensor: OutputTensor) -> dict[str, Any]:
    """An output tensor as V2 JSON: data flattened row-major. Numbers stay a numpy array, which the handler's JSON
    encoder writes without a Python object per element."""
    flat = tensor.data.reshape(-1)
    numeric = flat.dtype.kind in "biuf" and flat.dtype.isnative
    return {
        "name": tensor.name,
        "shape": list(tensor.shape),
        "datatype": tensor.datatype,
        "data": np.ascontiguousarray(flat) if numeric else json_values(flat),
    }


def render_rows(field: str, tensor: OutputTensor) -> dict[str, Any]:
    """V1's ``predictions``, MLflow's ``predictions`` or the original format's ``predicted_label``: the answer's
    values nested as its shape."""
    return {field: json_values(tensor.data)}
