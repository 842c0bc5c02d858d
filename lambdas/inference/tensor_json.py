"""V2 request bodies with their number arrays read in C: each all-number ``data`` array of an input goes from the
JSON text straight into a flat numpy array, never through a Python number per element.

simdjson parses the body; every value but the inputs' ``data`` becomes the same plain Python value ``orjson``
would give. A ``data`` array whose elements are all numbers of the input's datatype is copied out flat, in
row-major order. Flat data must then hold as many numbers as the shape (checked by the codecs, like any data);
nested data must have the shape's row count and its first and last rows its width, which catches a transposed or
reshaped batch. Rows in between are not walked one by one: a ragged middle that still adds up to the shape is
read row-major, as Triton reads all nested data. Anything else (``null`` for a missing value, strings, booleans, a
number the datatype cannot hold) keeps its Python list and the usual checks. A body simdjson cannot read, and a
small one, goes to ``body.parse_json``, whose errors every route shares.
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
import simdjson

from lambdas.inference.body import parse_json

# The buffer each numeric datatype's JSON numbers are read into; narrower types are cast, and range-checked, later.
_Buffer = Literal["d", "i", "u"]
_BUFFER_OF_DATATYPE: dict[str, _Buffer] = {
    **dict.fromkeys(("FP16", "FP32", "FP64"), "d"),
    **dict.fromkeys(("INT8", "INT16", "INT32", "INT64", "UINT8", "UINT16", "UINT32"), "i"),
    "UINT64": "u",
}
_DTYPE_OF_BUFFER: dict[_Buffer, np.dtype[Any]] = {
    "d": np.dtype(np.float64),
    "i": np.dtype(np.int64),
    "u": np.dtype(np.uint64),
}
# What simdjson raises for text it does not read as JSON, and for an array that does not fit the buffer asked for.
_NOT_READ = (ValueError, RuntimeError)
_NOT_NUMBERS = (TypeError, ValueError, RuntimeError)
# Below this many characters (a few dozen numbers) the plain parse and numpy's conversion of its lists cost less
# than reading the document key by key through simdjson.
SMALL_BODY_CHARS = 1024


def parse_v2_request(text: str) -> Any:
    """The JSON document of a V2 inference request, numeric input data as flat numpy arrays (in a body of
    ``SMALL_BODY_CHARS`` or more)."""
    if len(text) < SMALL_BODY_CHARS:
        return parse_json(text)
    try:
        document = simdjson.Parser().parse(text.encode("utf-8", "surrogatepass"))
        if not isinstance(document, simdjson.Object):
            return _plain(document)
        keys = _keys(document)
        if keys is None or "inputs" not in keys or not isinstance(inputs := document["inputs"], simdjson.Array):
            return parse_json(text)  # a key looked up unreliably, or no list of inputs: as usual
        request = {key: _plain(document[key]) for key in keys if key != "inputs"}
        request["inputs"] = [_input(tensor) for tensor in inputs]
        return request
    except _NOT_READ:
        return parse_json(text)


def _input(tensor: Any) -> Any:
    if not isinstance(tensor, simdjson.Object):
        return _plain(tensor)
    keys = _keys(tensor)
    if keys is None:
        return tensor.as_dict()
    fields = {key: _plain(tensor[key]) for key in keys if key != "data"}
    if "data" not in keys:
        return fields
    data = tensor["data"]
    datatype = fields.get("datatype")
    buffer = _BUFFER_OF_DATATYPE.get(datatype) if isinstance(datatype, str) else None
    if buffer is not None and isinstance(data, simdjson.Array) and _nested_like(data, fields.get("shape")):
        try:
            fields["data"] = np.frombuffer(data.as_buffer(of_type=buffer), dtype=_DTYPE_OF_BUFFER[buffer])
            return fields
        except _NOT_NUMBERS:
            pass
    fields["data"] = _plain(data)
    return fields


def _keys(value: simdjson.Object) -> list[str] | None:
    """The object's keys when each looks up its own value: not when one is repeated (the last value counts) or
    holds a NUL character (simdjson looks up the key up to the NUL, so ``"a\\u0000b"`` would find ``"a"``)."""
    keys = list(value.keys())
    if len(set(keys)) < len(keys) or any("\x00" in key for key in keys):
        return None
    return keys


def _nested_like(data: Any, shape: Any) -> bool:
    """Whether the array is flat, or nested as the shape says in its row count and its first and last rows: the
    checks that catch a transposed or reshaped batch without a Python call per row."""
    if not isinstance(shape, list) or not data:
        return False
    first = data[0]
    if not isinstance(first, simdjson.Array):
        return not isinstance(data[-1], simdjson.Array)
    if len(shape) != 2 or len(data) != shape[0]:
        return False
    last = data[-1]
    return isinstance(last, simdjson.Array) and len(first) == len(last) == shape[1]


def _plain(value: Any) -> Any:
    if isinstance(value, simdjson.Object):
        return value.as_dict()
    if isinstance(value, simdjson.Array):
        return value.as_list()
    return value
