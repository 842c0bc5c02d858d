"""The binary tensor extension of the Open Inference Protocol (KServe's and Triton's): a request body may be a JSON
header followed by raw tensor bytes, and an answer may carry its outputs the same way.

- Request: the ``Inference-Header-Content-Length`` header gives the JSON header's length in bytes; each input with
  ``parameters.binary_data_size`` takes that many bytes of what follows, in input order. Numbers are little-endian,
  BOOL one byte each, and BYTES elements a 4-byte little-endian length then the bytes.
- Answer: outputs asked for with ``parameters.binary_data`` (or all of them with the request's
  ``parameters.binary_data_output``) leave ``data`` out and give ``parameters.binary_data_size``; their bytes follow
  the JSON header, whose length goes in the same HTTP header.

The JSON header becomes the same typed request a JSON body does (``protocol.parse_v2``), which takes each binary
input's data from ``BinaryBody`` as it reads that input; the answer is written from the same typed outputs.
Every size is checked against the shape and the bytes actually sent, so a declared size can never make the function
read past the body or allocate more than it holds.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import orjson

from lambdas.common.datatypes import BYTES, WIRE_DTYPES
from lambdas.common.errors import BadRequest, UnsupportedMediaType
from lambdas.common.payloads import Array, OutputTensor
from lambdas.inference.body import parse_json

HEADER_NAME = "Inference-Header-Content-Length"
HEADER_LENGTH = HEADER_NAME.lower()
CONTENT_TYPE = "application/octet-stream"
_LENGTH = struct.Struct("<I")


@dataclass(frozen=True)
class BinaryAnswer:
    """A V2 answer whose outputs (some or all) travel as raw bytes after its JSON header."""

    header: bytes
    payload: bytes

    @property
    def body(self) -> bytes:
        return self.header + self.payload


class BinaryBody:
    """The bytes after a binary request's JSON header, read input by input as the protocol parses the header."""

    def __init__(self, payload: memoryview) -> None:
        self._payload = payload
        self._offset = 0

    def read(self, size: Any, datatype: str, shape: list[int], count: int) -> Array | list[str]:
        """The next ``size`` bytes as the data of an input of that (checked) datatype and shape of ``count``
        elements."""
        available = len(self._payload)
        if not isinstance(size, int) or isinstance(size, bool) or size < 0 or self._offset + size > available:
            raise BadRequest(f"input binary_data_size must be a byte count within the {available} bytes sent")
        data = self._payload[self._offset : self._offset + size]
        self._offset += size
        if datatype == BYTES:
            return _strings(data, count)
        dtype = WIRE_DTYPES[datatype]
        if len(data) != count * dtype.itemsize:
            raise BadRequest(
                f"binary_data_size is {len(data)} bytes, but shape {shape} of {datatype} takes {count * dtype.itemsize}"
            )
        array = np.frombuffer(data, dtype=dtype)
        if datatype == "BOOL" and bool((np.frombuffer(data, dtype=np.uint8) > 1).any()):
            raise BadRequest("BOOL binary data must be bytes 0 or 1")
        return array.astype(dtype.newbyteorder("="), copy=False).reshape(shape)

    def check_all_read(self) -> None:
        left = len(self._payload) - self._offset
        if left:
            raise BadRequest(f"the body holds {left} bytes after its binary inputs")


def split_request(raw: bytes, header_length: str) -> tuple[dict[str, Any], BinaryBody]:
    """A binary request's JSON header, as an object, and the bytes that follow it."""
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
    return body, BinaryBody(memoryview(raw)[length:])


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


def answer(
    head: dict[str, Any],
    outputs: Sequence[OutputTensor],
    binary_outputs: frozenset[str],
    as_json: Callable[[OutputTensor], dict[str, Any]],
) -> BinaryAnswer:
    """The answer with the wanted outputs' data as raw bytes after the JSON header, the others as JSON data."""
    described, chunks = [], []
    for tensor in outputs:
        if tensor.name in binary_outputs:
            chunk = _encode(tensor.data)
            described.append(
                {
                    "name": tensor.name,
                    "shape": list(tensor.shape),
                    "datatype": tensor.datatype,
                    "parameters": {"binary_data_size": len(chunk)},
                }
            )
            chunks.append(chunk)
        else:
            described.append(as_json(tensor))
    header = orjson.dumps({**head, "outputs": described}, option=orjson.OPT_SERIALIZE_NUMPY)
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
