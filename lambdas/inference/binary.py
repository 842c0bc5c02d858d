"""The binary tensor extension of the Open Inference Protocol (KServe's and Triton's): a request body may be a JSON
header followed by raw tensor bytes, and an answer may carry its outputs the same way.

- Request: the ``Inference-Header-Content-Length`` header gives the JSON header's length in bytes; each input with
  ``parameters.binary_data_size`` takes that many bytes of what follows, in input order. Numbers are little-endian,
  BOOL one byte each, and BYTES elements a 4-byte little-endian length then the bytes.
- Answer: outputs asked for with ``parameters.binary_data`` (or all of them with the request's
  ``parameters.binary_data_output``) leave ``data`` out and give ``parameters.binary_data_size``; their bytes follow
  the JSON header, whose length goes in the same HTTP header.

Every size is checked against the shape and the bytes actually sent, so a declared size can never make the function
read past the body or allocate more than it holds.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Any

import numpy as np
import orjson

from lambdas.common.signature import datatype_of
from lambdas.inference.body import parse_json
from lambdas.inference.errors import BadRequest, UnsupportedMediaType
from lambdas.inference.tensors import MAX_ELEMENTS, Array, output_tensor

HEADER_NAME = "Inference-Header-Content-Length"
HEADER_LENGTH = HEADER_NAME.lower()
CONTENT_TYPE = "application/octet-stream"
_DTYPES = {
    "BOOL": np.dtype("?"),
    "UINT8": np.dtype("<u1"),
    "UINT16": np.dtype("<u2"),
    "UINT32": np.dtype("<u4"),
    "UINT64": np.dtype("<u8"),
    "INT8": np.dtype("<i1"),
    "INT16": np.dtype("<i2"),
    "INT32": np.dtype("<i4"),
    "INT64": np.dtype("<i8"),
    "FP16": np.dtype("<f2"),
    "FP32": np.dtype("<f4"),
    "FP64": np.dtype("<f8"),
}
_LENGTH = struct.Struct("<I")


@dataclass(frozen=True)
class BinaryAnswer:
    """A V2 answer whose outputs (some or all) travel as raw bytes after its JSON header."""

    header: bytes
    payload: bytes

    @property
    def body(self) -> bytes:
        return self.header + self.payload


def read_request(raw: bytes, header_length: str) -> dict[str, Any]:
    """The V2 request in a binary body: its JSON header, with each binary input's ``data`` decoded from the bytes."""
    if not (header_length.isascii() and header_length.isdigit()) or int(header_length) > len(raw):
        raise BadRequest(f"{HEADER_NAME} must be a byte count within the body's {len(raw)} bytes")
    length = int(header_length)
    try:
        text = raw[:length].decode("utf-8")
    except UnicodeDecodeError:
        raise BadRequest("the JSON header of a binary request is not UTF-8") from None
    try:
        body = parse_json(text)
    except UnsupportedMediaType as error:  # the body is binary by design: its header is what failed
        raise BadRequest(f"the JSON header of a binary request: {error.message}") from None
    if not isinstance(body, dict):
        raise BadRequest(f"request body must be a JSON object, got {type(body).__name__}")
    payload = memoryview(raw)[length:]
    inputs = body.get("inputs")
    offset = 0
    for tensor in inputs if isinstance(inputs, list) else []:
        parameters = tensor.get("parameters") if isinstance(tensor, dict) else None
        size = parameters.get("binary_data_size") if isinstance(parameters, dict) else None
        if size is None:
            continue
        if not isinstance(size, int) or isinstance(size, bool) or size < 0 or offset + size > len(payload):
            raise BadRequest(f"input binary_data_size must be a byte count within the {len(payload)} bytes sent")
        if "data" in tensor:
            raise BadRequest("an input with binary_data_size must not also carry data")
        tensor["data"] = _decode(tensor, payload[offset : offset + size])
        offset += size
    if offset != len(payload):
        raise BadRequest(f"the body holds {len(payload) - offset} bytes after its binary inputs")
    return body


def _decode(tensor: dict[str, Any], data: memoryview) -> Array | list[str]:
    shape, datatype = tensor.get("shape"), tensor.get("datatype")
    if not isinstance(shape, list) or not all(isinstance(n, int) and not isinstance(n, bool) and n > 0 for n in shape):
        raise BadRequest("a binary input needs a shape of positive integers")
    count = 1
    for size in shape:
        count *= size
        if count > MAX_ELEMENTS:
            raise BadRequest(f"shape {shape} exceeds the limit of {MAX_ELEMENTS} elements")
    if datatype == "BYTES":
        return _strings(data, count)
    dtype = _DTYPES.get(datatype) if isinstance(datatype, str) else None
    if dtype is None:
        raise BadRequest(f"binary input datatype must be one of {', '.join([*_DTYPES, 'BYTES'])}")
    if len(data) != count * dtype.itemsize:
        raise BadRequest(
            f"binary_data_size is {len(data)} bytes, but shape {shape} of {datatype} takes {count * dtype.itemsize}"
        )
    array = np.frombuffer(data, dtype=dtype)
    if datatype == "BOOL" and bool((np.frombuffer(data, dtype=np.uint8) > 1).any()):
        raise BadRequest("BOOL binary data must be bytes 0 or 1")
    return array.astype(dtype.newbyteorder("="), copy=False).reshape(shape)


def _strings(data: memoryview, count: int) -> list[str]:
    """BYTES elements: each a 4-byte little-endian length, then that many bytes (UTF-8 text for a model)."""
    values, offset = [], 0
    for _ in range(count):
        if offset + 4 > len(data):
            raise BadRequest(f"BYTES binary data holds fewer than the {count} elements its shape declares")
        (size,) = _LENGTH.unpack_from(data, offset)
        offset += 4
        if offset + size > len(data):
            raise BadRequest("a BYTES element's length runs past its binary_data_size")
        try:
            values.append(bytes(data[offset : offset + size]).decode("utf-8"))
        except UnicodeDecodeError:
            raise BadRequest("BYTES elements must be UTF-8 text") from None
        offset += size
    if offset != len(data):
        raise BadRequest(f"BYTES binary data holds more than the {count} elements its shape declares")
    return values


def wanted(body: dict[str, Any]) -> tuple[bool, frozenset[str]]:
    """Whether every output is wanted as binary, and the outputs asked for as binary one by one."""
    parameters = body.get("parameters")
    every = isinstance(parameters, dict) and parameters.get("binary_data_output") is True
    named = set()
    outputs = body.get("outputs")
    for output in outputs if isinstance(outputs, list) else []:
        options = output.get("parameters") if isinstance(output, dict) else None
        if isinstance(options, dict) and options.get("binary_data") is True and isinstance(output.get("name"), str):
            named.add(output["name"])
    return every, frozenset(named)


def answer(response: dict[str, Any], answers: dict[str, Array], every: bool, named: frozenset[str]) -> BinaryAnswer:
    """The answer with the wanted outputs' data as raw bytes after the JSON header, the others as JSON data."""
    outputs, chunks = [], []
    for name, values in answers.items():
        if every or name in named:
            chunk = _encode(values)
            outputs.append(
                {
                    "name": name,
                    "shape": list(values.shape),
                    "datatype": datatype_of(values.dtype),
                    "parameters": {"binary_data_size": len(chunk)},
                }
            )
            chunks.append(chunk)
        else:
            outputs.append(output_tensor(name, values))
    header = orjson.dumps({**response, "outputs": outputs}, option=orjson.OPT_SERIALIZE_NUMPY)
    return BinaryAnswer(header=header, payload=b"".join(chunks))


def _encode(values: Array) -> bytes:
    if values.dtype.kind in "OUS":
        parts = []
        for value in values.reshape(-1).tolist():
            encoded = str(value).encode("utf-8")
            parts += [_LENGTH.pack(len(encoded)), encoded]
        return b"".join(parts)
    if values.dtype.kind == "b":
        return values.astype(np.uint8).tobytes()
    return np.ascontiguousarray(values).astype(values.dtype.newbyteorder("<"), copy=False).tobytes()
