"""How a published ``model.onnx`` answers like the scikit-learn model it was converted from.

The loader stores this record in the ONNX file itself (``metadata_props``), so the file describes itself: a reader
never pairs a converted model with the metadata of another publish.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

METADATA_KEY = "serverless_sklearn.interface"
FORMAT_VERSION = 1
COLUMN_DTYPES = ("float64", "str")


class InterfaceError(ValueError):
    """An ONNX file without a usable interface record: it was not written by this project's loader."""


@dataclass(frozen=True)
class OnnxInterface:
    input_name: str
    input_dtype: str  # the dtype the graph takes: "float64", or "float32" for a conversion that needs it
    feature_count: int
    predict_output: str
    predict_dtype: str  # numpy dtype of scikit-learn's predict, e.g. "int64", "float64", or "str" for text labels
    predict_ndim: int  # scikit-learn's predict returns (rows,) or (rows, targets)
    proba_output: str | None = None
    class_count: int | None = None
    # Rows with missing values (NaN): the model's own refusal of them, as scikit-learn words it (None: it takes
    # them); and whether the conversion answers them as scikit-learn does. A record from before this check sends
    # such rows to scikit-learn.
    missing_refusal: str | None = None
    missing_checked: bool = False
    # A DataFrame pipeline converted with one graph input per column, in the model's order: (name, "float64" or
    # "str"), each fed as [rows, 1]. Empty: one matrix input ``input_name`` of ``feature_count`` columns.
    columns: tuple[tuple[str, str], ...] = ()

    def to_json(self) -> str:
        return json.dumps({"format": FORMAT_VERSION, **asdict(self)}, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> OnnxInterface:
        try:
            data: Any = json.loads(text)
        except ValueError as error:
            raise InterfaceError(f"interface record is not JSON: {error}") from None
        if not isinstance(data, dict) or data.pop("format", None) != FORMAT_VERSION:
            raise InterfaceError(f"interface record is not format {FORMAT_VERSION}")
        try:
            data["columns"] = tuple((str(name), str(dtype)) for name, dtype in data.get("columns") or ())
            interface = cls(**data)
        except (TypeError, ValueError) as error:
            raise InterfaceError(f"interface record has unexpected fields: {error}") from None
        if interface.input_dtype not in ("float64", "float32") or interface.feature_count < 1:
            raise InterfaceError("interface record names an unsupported input")
        if any(dtype not in COLUMN_DTYPES for _, dtype in interface.columns):
            raise InterfaceError("interface record names an unsupported column type")
        if interface.predict_ndim not in (1, 2):
            raise InterfaceError("interface record names an unsupported prediction shape")
        return interface


def column_feeds(columns: Mapping[str, Any], interface: OnnxInterface) -> dict[str, Any]:
    """The graph inputs of a DataFrame pipeline's conversion: each column as a [rows, 1] array of its type. The
    loader checks a conversion on exactly these feeds, and the inference function serves it with them."""
    feeds = {}
    for name, dtype in interface.columns:
        values = np.asarray(columns[name])
        if dtype == "str":
            if values.dtype.kind not in "OU" or not all(isinstance(value, str) for value in values.tolist()):
                raise ValueError(f"column {name!r} takes strings")
            feeds[name] = values.astype(object).reshape(-1, 1)
        else:
            if values.dtype.kind not in "biuf":
                raise ValueError(f"column {name!r} takes numbers")
            feeds[name] = values.astype(np.float64, copy=False).reshape(-1, 1)
    return feeds


def open_session(model: bytes | str) -> Any:
    """An onnxruntime session over a model's bytes or path, opened the same way by the loader and the inference
    function, so the loader checks exactly what will serve.

    One thread without spinning: a Lambda environment answers one request at a time, and spinning threads would
    burn the CPU it is billed for.
    """
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return onnxruntime.InferenceSession(model, options, providers=["CPUExecutionProvider"])
