"""The Open Inference Protocol's tensor datatypes and the numpy dtypes they are held in: one table, read by the
request parsers, the codecs, the binary extension and the signature. It imports nothing of the project.

Numeric datatypes map to little-endian dtypes, the byte order the binary extension puts on the wire; ``native``
gives the same type in the machine's order, which numpy computes in. ``BYTES`` (strings) has no fixed-size dtype.
"""

from __future__ import annotations

from typing import Any

import numpy as np

BYTES = "BYTES"
WIRE_DTYPES: dict[str, np.dtype[Any]] = {
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
DATATYPES = (*WIRE_DTYPES, BYTES)
KNOWN_DATATYPES = frozenset(DATATYPES)
_NATIVE = {name: dtype.newbyteorder("=") for name, dtype in WIRE_DTYPES.items()}
_NAME_OF_DTYPE = {(dtype.kind, dtype.itemsize): name for name, dtype in WIRE_DTYPES.items()}
# A dtype of a kind the protocol has but a size it lacks (float128, say) is named by the widest of its kind.
_WIDEST_OF_KIND = {"b": "BOOL", "f": "FP64", "i": "INT64", "u": "UINT64"}


def native(datatype: str) -> np.dtype[Any]:
    """The numpy dtype, in the machine's byte order, of a numeric datatype."""
    return _NATIVE[datatype]


def datatype_of(dtype: np.dtype[Any]) -> str:
    """The datatype of a numpy dtype; strings and objects travel as BYTES."""
    name = _NAME_OF_DTYPE.get((dtype.kind, dtype.itemsize))
    if name is not None:
        return name
    return _WIDEST_OF_KIND.get(dtype.kind, BYTES)
