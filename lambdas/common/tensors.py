"""Turning request data into the 2-D feature arrays scikit-learn expects, and predictions into plain JSON values.

Every size is checked against the data actually sent before anything is allocated, so a declared shape can never
make the function allocate more than the request body already holds.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from lambdas.common import datatypes
from lambdas.common.errors import BadRequest
from lambdas.common.payloads import Array, RequestInput

# Far above what a body under the 6 MiB request cap can carry; guards the shape product before any comparison.
MAX_ELEMENTS = 1 << 24
_FLOAT64 = np.dtype(np.float64)


def element_count(shape: tuple[int, ...] | list[int]) -> int:
    """How many elements a shape of positive sizes holds, refused past ``MAX_ELEMENTS`` before it is multiplied
    out: the one check of a declared shape, for JSON and binary tensors alike."""
    product = 1
    for size in shape:
        product *= size
        if product > MAX_ELEMENTS:
            raise BadRequest(f"shape {list(shape)} exceeds the limit of {MAX_ELEMENTS} elements")
    return product


def tensor_array(tensor: RequestInput, feature_count: int | None) -> tuple[Array, bool]:
    """One V2 input tensor of a positional model as a feature array, checked against its declared shape and
    datatype and the model, with whether a value is missing: ``null`` (or NaN) in a floating-point tensor is sent on
    as NaN."""
    shape = list(tensor.shape)
    expected = element_count(shape)
    array = _as_array(tensor.data)
    if array.size != expected:
        raise BadRequest(f"shape {shape} holds {expected} elements but data has {array.size}")
    declared = tuple(shape)
    if array.shape != declared:
        if array.ndim > 1:
            raise BadRequest(f"nested data has shape {list(array.shape)}, declared shape is {shape}")
        array = array.reshape(declared)
    typed, missing = _typed(array, tensor.datatype)
    return _features(typed, feature_count), missing


def instances(rows: Any, feature_count: int | None, field: str) -> tuple[Array, bool]:
    """Rows of a V1 or original-format request as a feature array (numbers, or strings for text pipelines), with
    whether a value is missing."""
    if not isinstance(rows, list) or not rows:
        raise BadRequest(f"'{field}' must be a non-empty list of rows")
    array = _as_array(rows)
    if array.size > MAX_ELEMENTS:
        raise BadRequest(f"'{field}' has {array.size} values; the limit is {MAX_ELEMENTS}")
    if array.dtype.kind == "O":
        array = numbers_with_missing(array, f"'{field}'")
    kind = array.dtype.kind
    missing = False
    if kind in "iuf":
        array = array.astype(np.float64, copy=False)
        missing = missing_values(array)
    elif kind != "U":
        raise BadRequest(f"'{field}' must hold numbers (or strings for text models)")
    return _features(array, feature_count), missing


def json_values(values: Array) -> list[Any]:
    """Plain JSON values (nested like the array): non-finite floats become null, other objects their text."""
    kind = values.dtype.kind
    if kind == "f" and not _all_finite(values):
        as_objects = values.astype(object)
        as_objects[~np.isfinite(values)] = None
        nulled: list[Any] = as_objects.tolist()
        return nulled
    plain: list[Any] = values.tolist() if kind in "biufU" else values.astype(str).tolist()
    return plain


def _as_array(data: list[Any] | Array) -> Array:
    try:
        return np.asarray(data)
    except (ValueError, TypeError, OverflowError, RecursionError):
        raise BadRequest("data must be a rectangular array of scalars") from None


def _typed(array: Array, datatype: str) -> tuple[Array, bool]:
    """The array as the datatype declares it, with whether a value is missing (NaN, in floating-point data)."""
    kind = array.dtype.kind
    if kind == "O" and datatype.startswith("FP"):
        array, kind = numbers_with_missing(array, f"{datatype} data"), "f"
    if datatype == "BYTES":
        if kind != "U":
            raise BadRequest("BYTES data must be strings")
        return array, False
    if datatype == "BOOL":
        if kind != "b":
            raise BadRequest("BOOL data must be true or false")
        return array, False
    target = datatypes.native(datatype)
    if target == array.dtype == _FLOAT64:  # FP64 numbers, by far the most common request
        return array, missing_values(array)
    if target.kind == "f":
        if kind not in "iuf":
            raise BadRequest(f"{datatype} data must be numbers")
        if target == _FLOAT64 or array.dtype == target:
            converted = array.astype(target, copy=False)
        else:
            with np.errstate(over="ignore"):  # a narrowing overflow becomes inf, which missing_values refuses
                converted = array.astype(target)
        return converted, missing_values(converted)
    if kind not in "iu":
        raise BadRequest(f"{datatype} data must be integers")
    limits = np.iinfo(target)
    if int(array.min()) < limits.min or int(array.max()) > limits.max:
        raise BadRequest(f"{datatype} data must lie in [{limits.min}, {limits.max}]")
    return array.astype(target, copy=False), False


def numbers_with_missing(array: Array, what: str) -> Array:
    """An object array of numbers and ``null``s (JSON's missing values) as float64 with NaN for each null."""
    for value in array.flat:
        if value is not None and (not isinstance(value, int | float) or isinstance(value, bool)):
            raise BadRequest(f"{what} must be numbers or null")
    try:
        return array.astype(np.float64)
    except OverflowError:
        raise BadRequest(f"{what} holds a number too large for FP64") from None


def missing_values(array: Array, column: str | None = None) -> bool:
    """Whether floating-point data (of a tensor, or of the named column) holds a missing value (NaN, passed on to
    the model); an infinity is an overflow, and refused."""
    if _all_finite(array):
        return False
    if np.isinf(array).any():
        if column is not None:
            raise BadRequest(f"column {column!r} holds a number that is not finite")
        raise BadRequest("data must be finite numbers (a value overflows its datatype)")
    return True


def _all_finite(array: Array) -> bool:
    return bool(np.isfinite(array).all())


def _features(array: Array, feature_count: int | None) -> Array:
    if array.ndim == 2:
        if feature_count is not None and array.shape[1] != feature_count:
            raise BadRequest(f"the model expects {feature_count} features per row, got {array.shape[1]}")
        return array
    if array.ndim == 1 and feature_count is None:
        if array.dtype.kind != "U":
            raise BadRequest("a list of single values is for text models: send strings, or rows of numbers")
        return array
    if feature_count is None:
        raise BadRequest(f"data must be a list of rows, got {array.ndim} dimensions")
    raise BadRequest(f"data must be rows of {feature_count} features, got {array.ndim} dimension(s)")
