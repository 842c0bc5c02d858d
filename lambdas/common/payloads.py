"""The typed records a request becomes and an answer is made of, shared by every front door (the V2, V1, MLflow and
original bodies of the inference API, and the loader asking a model about its sample): the protocol layer parses
wire bodies into these, the codecs turn them into a ``Batch`` and turn predictions back into ``OutputTensor``s.

Built for every request and never changed afterwards: plain slotted dataclasses, which take half the time of frozen
ones to build.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

Array = npt.NDArray[Any]
Cells = list[Any] | Array  # one column's values: as sent, or already typed by a file's reader
NO_PARAMETERS: Mapping[str, Any] = {}


def content_type_of(parameters: Mapping[str, Any]) -> str | None:
    """The Open Inference Protocol's ``parameters.content_type``, of a request or of one input."""
    value = parameters.get("content_type")
    return value if isinstance(value, str) else None


@dataclass(slots=True)
class RequestInput:
    """One V2 input tensor: its declared name, shape and datatype, and its data: as sent in JSON (flat or nested),
    or as the array or strings the binary extension carried. The shape has been checked (one or two positive sizes
    within the element limit); the data is checked against it by the codecs."""

    name: str
    shape: tuple[int, ...]
    datatype: str
    data: list[Any] | Array
    parameters: Mapping[str, Any]

    @property
    def content_type(self) -> str | None:
        return content_type_of(self.parameters)


@dataclass(slots=True)
class InferRequest:
    """A V2 inference request, from a JSON body or a binary one. ``binary_outputs``: the outputs whose data is to
    travel as raw bytes after the answer's JSON header (the binary extension's ``binary_data``)."""

    id: str | None
    inputs: tuple[RequestInput, ...]
    outputs: tuple[str, ...]
    parameters: Mapping[str, Any]
    binary_outputs: frozenset[str] = frozenset()

    @property
    def content_type(self) -> str | None:
        return content_type_of(self.parameters)


@dataclass(slots=True)
class RowsRequest:
    """V1 ``instances``, the original format's ``inputs``, MLflow's records, a sample: rows as lists, scalars or
    records. ``field`` names where they came from, for error messages."""

    rows: list[Any]
    field: str


@dataclass(slots=True)
class ColumnsRequest:
    """Values by column: MLflow's ``dataframe_split`` and ``inputs`` as an object, a CSV body, or a batch chunk.
    ``text``: the values are a CSV's strings, typed by the model's signature; a column may also come as an array a
    file's reader has typed already (numbers, booleans)."""

    columns: Mapping[str, Cells]
    field: str
    text: bool = False


@dataclass(slots=True)
class OutputTensor:
    """One answer as a typed tensor: its values (row-major) with the shape and datatype they travel with."""

    name: str
    shape: tuple[int, ...]
    datatype: str
    data: Array

    @property
    def flat(self) -> Array:
        return np.ascontiguousarray(self.data.reshape(-1))
