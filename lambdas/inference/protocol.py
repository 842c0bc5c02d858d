"""The request bodies of the API parsed once into typed requests: the Open Inference Protocol (V2), KServe V1 and
the original format. Only the structure is checked here; what the data means is the codecs' job, against the model.
"""

from __future__ import annotations

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


@dataclass(frozen=True)
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


@dataclass(frozen=True)
class InferRequest:
    """A V2 inference request."""

    id: str | None
    inputs: tuple[RequestInput, ...]
    outputs: tuple[str, ...]
    parameters: Mapping[str, Any]

    @property
    def content_type(self) -> str | None:
        return _content_type(self.parameters)


@dataclass(frozen=True)
class RowsRequest:
    """V1 ``instances`` or the original format's ``inputs``: rows as lists, scalars or records."""

    rows: list[Any]
    field: str


@dataclass(frozen=True)
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
