"""Codecs: typed requests in, a ``Batch`` the model's runner takes out; the runner's answers back out as typed
``OutputTensor``s. Registered by content type, as in the Open Inference Protocol's ``parameters.content_type``:

- ``np``: one tensor ``[rows, features]`` of numbers (or ``[rows]`` strings for a text pipeline): positional models;
- ``str``: one ``[rows]`` BYTES tensor of strings;
- ``pd``: named columns, one V2 input per column (MLServer's and KServe's PandasCodec form), or one tensor
  ``[rows, columns]`` in the model's column order, or V1/original rows as records or as lists in column order, or
  MLflow's columns (``dataframe_split``, ``inputs`` as an object, a CSV body's text cells).

The codec is chosen by the request's ``content_type``, then by the model's signature (named columns: ``pd``; else
``np``); an answer is encoded by the codec of its values (strings: ``str``, else ``np``). Columns are decoded into
one numpy array each, typed by the signature; building the pandas DataFrame is the scikit-learn runner's job, so the
ONNX runner and positional models never import pandas.

JSON ``null`` (and NaN) is a missing value: NaN in a number column, None in a string column.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

import numpy as np

from lambdas.common.batch import Batch
from lambdas.common.datatypes import datatype_of
from lambdas.common.errors import BadRequest
from lambdas.common.payloads import Array, ColumnsRequest, InferRequest, OutputTensor, RequestInput, RowsRequest
from lambdas.common.signature import Inputs, Param
from lambdas.common.tensors import MAX_ELEMENTS, instances, missing_values, tensor_array

NUMPY = "np"
STRING = "str"
PANDAS = "pd"


class Codec(Protocol):
    content_type: str

    def decode(self, request: InferRequest, inputs: Inputs) -> Batch: ...

    def decode_rows(self, request: RowsRequest, inputs: Inputs) -> Batch: ...

    def decode_columns(self, request: ColumnsRequest, inputs: Inputs) -> Batch: ...

    def encode_output(self, name: str, values: Array) -> OutputTensor: ...


class NumpyCodec:
    """Positional features; answers of numbers."""

    content_type = NUMPY

    def decode(self, request: InferRequest, inputs: Inputs) -> Batch:
        if len(request.inputs) != 1:
            raise BadRequest("'inputs' must be a list holding exactly one tensor")
        tensor = request.inputs[0]
        if inputs.mixed:
            if len(tensor.shape) != 2 or tensor.shape[1] != inputs.features:
                raise BadRequest(f"the model takes a [rows, {inputs.features}] tensor, got shape {list(tensor.shape)}")
            rows, width = tensor.shape
            values = _flat(tensor.data, rows * width, tensor.name)
            return _positions([values[index::width] for index in range(width)], inputs, rows, text=True)
        features, missing = tensor_array(tensor, inputs.features if inputs.kind == "tensor" else None)
        return Batch(rows=len(features), features=features, missing=missing)

    def decode_rows(self, request: RowsRequest, inputs: Inputs) -> Batch:
        if inputs.mixed:
            rows = request.rows
            width = len(inputs.columns)
            if len(rows) * width > MAX_ELEMENTS:
                raise BadRequest(f"'{request.field}' has more than {MAX_ELEMENTS} values")
            for number, row in enumerate(rows):
                if not isinstance(row, list) or len(row) != width:
                    raise BadRequest(f"row {number} of '{request.field}' must be a list of {width} values")
            return _positions([[row[index] for row in rows] for index in range(width)], inputs, len(rows))
        features, missing = instances(request.rows, inputs.features, request.field)
        return Batch(rows=len(features), features=features, missing=missing)

    def decode_columns(self, request: ColumnsRequest, inputs: Inputs) -> Batch:
        return _decode_columns(request, inputs)

    def encode_output(self, name: str, values: Array) -> OutputTensor:
        return OutputTensor(name, values.shape, datatype_of(values.dtype), values)


class StringCodec(NumpyCodec):
    """One BYTES tensor of strings; answers of strings (class labels), as BYTES."""

    content_type = STRING

    def decode(self, request: InferRequest, inputs: Inputs) -> Batch:
        if any(tensor.datatype != "BYTES" for tensor in request.inputs):
            raise BadRequest("content_type 'str' takes BYTES tensors of strings")
        return super().decode(request, inputs)

    def encode_output(self, name: str, values: Array) -> OutputTensor:
        return OutputTensor(name, values.shape, "BYTES", values)


class PandasCodec(NumpyCodec):
    """Named columns, typed by the model's signature. A named model's answers are arrays like any other's, so
    they are encoded as ``np`` and ``str`` encode them."""

    content_type = PANDAS

    def decode(self, request: InferRequest, inputs: Inputs) -> Batch:
        names = inputs.names if inputs.named else None
        tensors = request.inputs
        if len(tensors) == 1 and len(tensors[0].shape) == 2 and tensors[0].shape[1] > 1:
            return self._from_matrix(tensors[0], inputs)
        sent = [tensor.name for tensor in tensors]
        _check_names(sent, names, inputs.optional)
        rows = _column_length(tensors[0])
        columns: dict[str, TypedColumn] = {}
        for tensor in tensors:
            if _column_length(tensor) != rows:
                raise BadRequest(f"column {tensor.name!r} has {_column_length(tensor)} rows, the first has {rows}")
            values = _flat(tensor.data, rows, tensor.name)
            columns[tensor.name] = _typed_column(values, inputs.datatypes.get(tensor.name), tensor.name)
        return _batch(columns, inputs, rows)

    def decode_rows(self, request: RowsRequest, inputs: Inputs) -> Batch:
        rows = request.rows
        names = inputs.names if inputs.named else None
        if len(rows) * max(len(names or ()), 1) > MAX_ELEMENTS:
            raise BadRequest(f"'{request.field}' has more than {MAX_ELEMENTS} values")
        if all(isinstance(row, dict) for row in rows):
            sent = list(rows[0])
            _check_names(sent, names, inputs.optional)
            for number, row in enumerate(rows):
                if row.keys() != rows[0].keys():
                    missing = [name for name in sent if name not in row] or [k for k in row if k not in rows[0]]
                    raise BadRequest(f"record {number} differs from the first in column {missing[0]!r}")
            by_name = {name: [row[name] for row in rows] for name in sent}
        elif names is not None and all(isinstance(row, list) for row in rows):
            for number, row in enumerate(rows):
                if len(row) != len(names):
                    raise BadRequest(f"row {number} has {len(row)} values; the model takes columns {list(names)}")
            by_name = {name: [row[index] for row in rows] for index, name in enumerate(names)}
        else:
            raise BadRequest(f"'{request.field}' must be records ({{column: value}}) or rows in column order")
        columns = {name: _typed_column(values, inputs.datatypes.get(name), name) for name, values in by_name.items()}
        return _batch(columns, inputs, len(rows))

    def decode_columns(self, request: ColumnsRequest, inputs: Inputs) -> Batch:
        return _decode_columns(request, inputs)

    def _from_matrix(self, tensor: RequestInput, inputs: Inputs) -> Batch:
        """One tensor ``[rows, columns]`` holding every column, in the model's order."""
        if not inputs.named:
            raise BadRequest("a [rows, columns] tensor with content_type 'pd' needs a model fitted on named columns")
        rows, width = tensor.shape
        if width != len(inputs.columns):
            raise BadRequest(f"the model takes {len(inputs.columns)} columns {list(inputs.names)}, got {width}")
        if rows * width > MAX_ELEMENTS:
            raise BadRequest(f"shape {list(tensor.shape)} exceeds the limit of {MAX_ELEMENTS} elements")
        values = _flat(tensor.data, rows * width, tensor.name)
        text = tensor.datatype == "BYTES"  # a table of strings and numbers: each cell read by its column's datatype
        columns = {
            column.name: _typed_column(
                _cells(values[index::width], column.datatype, column.name) if text else values[index::width],
                column.datatype,
                column.name,
            )
            for index, column in enumerate(inputs.columns)
        }
        return _batch(columns, inputs, rows)


def _decode_columns(request: ColumnsRequest, inputs: Inputs) -> Batch:
    """Values by column (MLflow's ``dataframe_split``, a CSV body): a named model's columns, or a positional
    model's features in the order sent."""
    names = inputs.names if inputs.named else None
    sent = list(request.columns)
    _check_names(sent, names, inputs.optional)
    if names is None and inputs.features is not None and len(sent) != inputs.features:
        raise BadRequest(f"the model takes {inputs.features} features, got {len(sent)} columns")
    rows = len(request.columns[sent[0]])
    if rows == 0 or rows * len(sent) > MAX_ELEMENTS:
        raise BadRequest(f"'{request.field}' must hold 1 to {MAX_ELEMENTS} values")
    columns: dict[str, TypedColumn] = {}
    for name, values in request.columns.items():
        if len(values) != rows:
            raise BadRequest(f"column {name!r} has {len(values)} rows, the first has {rows}")
        datatype = inputs.datatypes.get(name) if names is not None else "FP64"
        if isinstance(values, np.ndarray):
            columns[name] = _typed_array(values, datatype, name)
            continue
        typed = _from_text(values, datatype, name) if request.text else values
        columns[name] = _typed_column(typed, datatype, name)
    return _batch(columns, inputs, rows)


def _typed_array(values: Array, datatype: str | None, name: str) -> TypedColumn:
    """A column a file's reader has already typed (a CSV column parsed as numbers, a Parquet column): numbers and
    booleans kept as arrays, exactly as ``_typed_column`` would type the same values sent as JSON; any other array
    is taken as those JSON values."""
    kind = values.dtype.kind
    if kind in "iuf" and datatype in ("FP64", "INT64", None):
        if kind == "f" or datatype == "FP64":
            array = values.astype(np.float64, copy=False)
            return array, missing_values(array, name)
        return values.astype(np.int64, copy=False), False
    if kind == "b" and datatype in ("BOOL", None):
        return values, False
    return _typed_column(values.tolist(), datatype, name)


_CODECS: dict[str, Codec] = {codec.content_type: codec for codec in (NumpyCodec(), StringCodec(), PandasCodec())}


def codec_for(content_type: str | None, inputs: Inputs) -> Codec:
    """The codec a request names, else the one the model's signature implies."""
    if content_type is not None:
        codec = _CODECS.get(content_type)
        if codec is None:
            raise BadRequest(f"content_type {content_type!r} is not one of {sorted(_CODECS)}")
        if inputs.named and codec.content_type != PANDAS:
            return _CODECS[PANDAS]  # a named model always takes columns; "np" names a dtype, not a layout
        return codec
    return _CODECS[PANDAS if inputs.named else NUMPY]


def decode(request: InferRequest, inputs: Inputs) -> Batch:
    content_type = request.content_type
    if content_type is None:
        declared = {tensor.content_type for tensor in request.inputs} - {None}
        content_type = PANDAS if PANDAS in declared else None
    if content_type is None and not inputs.named and len(request.inputs) > 1:
        raise BadRequest("'inputs' must be a list holding exactly one tensor")
    return codec_for(content_type, inputs).decode(request, inputs)


def decode_rows(request: RowsRequest, inputs: Inputs) -> Batch:
    return codec_for(None, inputs).decode_rows(request, inputs)


def decode_columns(request: ColumnsRequest, inputs: Inputs) -> Batch:
    return codec_for(None, inputs).decode_columns(request, inputs)


def encode_output(name: str, values: Array) -> OutputTensor:
    """An answer as a typed tensor, by the codec of its values: strings and objects ``str``, numbers ``np``."""
    return _CODECS[STRING if values.dtype.kind in "OUS" else NUMPY].encode_output(name, values)


# --- params ---

_PARAM_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "datetime": (str,),
    "binary": (str,),
    "boolean": (bool,),
    "double": (int, float),
    "float": (int, float),
    "long": (int,),
    "integer": (int,),
}


def check_params(params: Mapping[str, Any], schema: Sequence[Param] | None) -> None:
    """MLflow's scoring ``params`` against the model's params schema: each one it names, of its type (a list for
    a shape). A model without a schema takes any params, as MLflow's scoring server does, and none plays a part in
    a scikit-learn prediction."""
    if schema is None:
        return
    declared = {param.name: param for param in schema}
    for name, value in params.items():
        param = declared.get(name)
        if param is None:
            raise BadRequest(f"unknown param {name!r}; the model takes params {sorted(declared)}")
        values = value if param.shape is not None and isinstance(value, list) else [value]
        if param.shape is not None and not isinstance(value, list):
            raise BadRequest(f"param {name!r} takes a list of {param.type} values")
        accepted = _PARAM_TYPES.get(param.type)
        for item in values:
            wrong = accepted is not None and (
                not isinstance(item, accepted) or (isinstance(item, bool) and bool not in accepted)
            )
            if wrong:
                raise BadRequest(f"param {name!r} takes {param.type} values, got {item!r}")


# --- columns ---


def _check_names(sent: Sequence[str], names: Sequence[str] | None, optional: frozenset[str] = frozenset()) -> None:
    """Each column sent once, none unknown, and every column the model requires."""
    seen = set()
    for name in sent:
        if name in seen:
            raise BadRequest(f"column {name!r} is sent twice")
        seen.add(name)
    if names is None:
        return
    unknown = [name for name in sent if name not in names]
    if unknown:
        raise BadRequest(f"unknown column {unknown[0]!r}; the model takes columns {list(names)}")
    missing = [name for name in names if name not in seen and name not in optional]
    if missing:
        raise BadRequest(f"missing column {missing[0]!r}; the model takes columns {list(names)}")


def _column_length(tensor: RequestInput) -> int:
    shape = tensor.shape
    if len(shape) == 2 and shape[1] != 1:
        raise BadRequest(f"column {tensor.name!r} must have shape [rows] or [rows, 1], got {list(shape)}")
    if shape[0] > MAX_ELEMENTS:
        raise BadRequest(f"column {tensor.name!r} exceeds the limit of {MAX_ELEMENTS} elements")
    return shape[0]


def _flat(data: list[Any] | np.ndarray, size: int, name: str) -> list[Any]:
    """The column's values as a flat list, nested one level at most ([[v], [v]] or [[a, b], [c, d]])."""
    if isinstance(data, np.ndarray):  # binary tensor data, already shaped by its declared shape
        if data.size != size:
            raise BadRequest(f"input {name!r} has shape for {size} values but data holds {data.size}")
        flat: list[Any] = data.reshape(-1).tolist()
        return flat
    if len(data) == size and not any(isinstance(value, list) for value in data):
        return data
    flat = []
    for value in data:
        if isinstance(value, list):
            if any(isinstance(inner, list | dict) for inner in value):
                raise BadRequest(f"input {name!r} data is nested too deeply")
            flat.extend(value)
        else:
            flat.append(value)
        if len(flat) > size:
            break
    if len(flat) != size:
        raise BadRequest(f"input {name!r} has shape for {size} values but data holds {len(flat)}")
    return flat


_NUMBER_TYPES = frozenset({int, float})
_NONE = type(None)


# A column as the model gets it, and whether one of its values is missing.
TypedColumn = tuple[Array, bool]


def _typed_column(values: list[Any], datatype: str | None, name: str) -> TypedColumn:
    """One column's values as a typed array: FP64 and INT64 as numbers (NaN for missing), BOOL, BYTES as strings
    (None for missing); a column of any scalar keeps what was sent, numbers as numbers, strings as strings. The
    signature decides, not the datatype a request declares: V1 rows and BYTES matrices declare none.

    The check is one pass over the values' types (JSON gives only None, bool, int, float, str, list and dict)."""
    types = set(map(type, values))
    types.discard(_NONE)
    if list in types or dict in types:
        raise BadRequest(f"column {name!r} must hold scalars")
    if datatype in ("FP64", "INT64"):
        if not types <= _NUMBER_TYPES:
            raise BadRequest(f"column {name!r} takes numbers (or null), got {_example(values, str | bool)!r}")
        return _numbers(values, name, integers=datatype == "INT64" and types == {int})
    if datatype == "BOOL":
        if not types <= {bool}:
            raise BadRequest(f"column {name!r} takes true or false (or null)")
        return _booleans(values)
    if datatype == "BYTES":
        if not types <= {str}:
            raise BadRequest(f"column {name!r} takes strings (or null), got {_example(values, int | float)!r}")
        return _objects(values)
    # any scalar: as pandas would read it
    if types <= _NUMBER_TYPES:
        return _numbers(values, name, integers=types == {int})
    if types == {bool}:
        return _booleans(values)
    return _objects(values)


_TRUE, _FALSE = frozenset({"true", "True", "TRUE", "1"}), frozenset({"false", "False", "FALSE", "0"})


def _from_text(values: list[Any], datatype: str | None, name: str) -> list[Any]:
    """A CSV column's cells as the JSON values the signature's datatype takes; empty cells are missing. A column of
    any scalar is numbers when every cell is one, else text, as pandas reads a CSV."""
    if datatype == "BYTES":
        return values
    if datatype == "BOOL":
        if any(value is not None and value not in _TRUE | _FALSE for value in values):
            raise BadRequest(f"column {name!r} takes true or false")
        return [None if value is None else value in _TRUE for value in values]
    parsed = _parsed_in_c(values, datatype)
    if parsed is not None:
        return parsed
    try:
        numbers = [None if value is None else _number(value) for value in values]
    except ValueError:
        if datatype is None:
            return values
        bad = next(value for value in values if value is not None and not _is_number(value))
        raise BadRequest(f"column {name!r} takes numbers, got {bad!r}") from None
    return numbers


def _parsed_in_c(values: list[Any], datatype: str | None) -> list[Any] | None:
    """The cells as numbers parsed by numpy, as ``_number`` would give them (integers when every cell is one, unless
    the column is FP64), or None to leave them to the exact, slower path: a cell that is no plain number, or a
    missing cell in a column that could be integers. A large CSV file is parsed a hundred times faster this way."""
    if any(value is None for value in values):
        if datatype == "FP64":
            try:
                return list(np.array([value if value is not None else "nan" for value in values], np.float64).tolist())
            except (ValueError, OverflowError):
                return None
        return None
    if datatype != "FP64":
        try:
            return list(np.array(values, np.int64).tolist())
        except (ValueError, OverflowError):
            pass
    if datatype == "INT64":
        return None
    try:
        return list(np.array(values, np.float64).tolist())
    except (ValueError, OverflowError):
        return None


def _cells(values: list[Any], datatype: str | None, name: str) -> list[Any]:
    """A BYTES table's cells of one column as that column's datatype takes them: a numeric column's text parsed as
    a number (a 400 naming the column and row when it is not one), a boolean column's text as true or false; JSON
    numbers, booleans and nulls as sent."""
    if datatype in ("FP64", "INT64"):
        cells = []
        for row, value in enumerate(values):
            if isinstance(value, str):
                try:
                    value = _number(value.strip())
                except ValueError:
                    raise BadRequest(f"column {name!r} takes numbers, got {value!r} in row {row}") from None
            cells.append(value)
        return cells
    if datatype == "BOOL":
        return [(value in _TRUE) if isinstance(value, str) and value in _TRUE | _FALSE else value for value in values]
    return values


def _positions(by_position: list[list[Any]], inputs: Inputs, rows: int, *, text: bool = False) -> Batch:
    """The features of a positional model fitted on a table of strings and numbers (an object array): each position
    typed by its datatype in the signature, the whole an object array as the model was fitted on."""
    features = np.empty((rows, len(inputs.columns)), dtype=object)
    missing = False
    for index, (column, values) in enumerate(zip(inputs.columns, by_position, strict=True)):
        cells = _cells(values, column.datatype, column.name) if text else values
        array, absent = _typed_column(cells, column.datatype, column.name)
        features[:, index] = array
        missing = missing or absent
    return Batch(rows=rows, features=features, missing=missing)


def _number(text: str) -> int | float:
    try:
        return int(text)
    except ValueError:
        return float(text)


def _is_number(text: str) -> bool:
    try:
        _number(text)
    except ValueError:
        return False
    return True


def _numbers(values: list[Any], name: str, *, integers: bool) -> TypedColumn:
    """Numbers as int64 when they are all integers (and none is missing), else float64 with NaN for null."""
    absent = None in values
    if integers and not absent:
        try:
            return np.asarray(values, dtype=np.int64), False
        except OverflowError:
            pass
    try:
        array = np.asarray([np.nan if v is None else v for v in values] if absent else values, np.float64)
    except (OverflowError, ValueError, TypeError):
        raise BadRequest(f"column {name!r} holds a number too large for FP64") from None
    return array, missing_values(array, name)


def _booleans(values: list[Any]) -> TypedColumn:
    return (np.asarray(values, dtype=np.bool_), False) if None not in values else _objects(values)


def _objects(values: list[Any]) -> TypedColumn:
    """Values kept as Python objects; a missing one is None (or a NaN that was sent)."""
    array = np.empty(len(values), dtype=object)
    array[:] = values
    return array, None in values or any(value != value for value in values if type(value) is float)


def _example(values: list[Any], kind: Any) -> Any:
    return next((value for value in values if isinstance(value, kind)), None)


def _batch(typed: dict[str, TypedColumn], inputs: Inputs, rows: int) -> Batch:
    """The batch in the model's column order (a positional model asked with columns: its features, in the order
    sent); an optional column left out is all missing values."""
    names = inputs.names if inputs.named else None
    if names is not None and len(typed) < len(names):
        for name in names:
            if name not in typed:
                typed[name] = _typed_column([None] * rows, inputs.datatypes.get(name), name)
    ordered = {name: typed[name] for name in names} if names is not None else typed
    columns = {name: array for name, (array, _) in ordered.items()}
    if names is None:
        try:
            features = np.column_stack([array.astype(np.float64) for array in columns.values()])
        except (ValueError, TypeError):
            raise BadRequest("this model takes numbers in every column") from None
        return Batch(rows=rows, features=features, missing=bool(np.isnan(features).any()))
    return Batch(rows=rows, columns=columns, missing=any(missing for _, missing in ordered.values()))
