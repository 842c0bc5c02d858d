"""The two runtimes a model answers on: scikit-learn with the uploaded file, or onnxruntime with the conversion the
loader checked against it. Both take the same feature arrays and give answers of the same shapes and types.

Each is imported on first use: a process that only serves ONNX models never imports scikit-learn.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from lambdas.common.models import ModelLoadError, check_estimator, load_model
from lambdas.common.onnx_interface import METADATA_KEY, InterfaceError, OnnxInterface, open_session
from lambdas.inference.tensors import Array, datatype_of

SCIKIT_LEARN = "scikit-learn"
ONNXRUNTIME = "onnxruntime"

_thread_config = threading.local()


class Runner(Protocol):
    runtime: str
    platform: str  # the model metadata "platform" of the Open Inference Protocol
    feature_count: int | None
    label_datatype: str
    class_count: int | None
    has_proba: bool

    def predict(self, features: Array) -> Array: ...

    def predict_proba(self, features: Array) -> Array: ...


class SklearnRunner:
    runtime = SCIKIT_LEARN
    platform = "sklearn"

    def __init__(self, estimator: Any, declared_feature_count: int | None = None) -> None:
        self.estimator = estimator
        self.feature_count = check_estimator(estimator) or declared_feature_count
        classes = getattr(estimator, "classes_", None)
        labels = np.asarray(classes) if classes is not None else None
        single_output = labels is not None and labels.ndim == 1
        self.label_datatype = datatype_of(labels.dtype) if labels is not None and single_output else "FP64"
        self.class_count = len(labels) if labels is not None and single_output else None
        self.has_proba = single_output and _has_method(estimator, "predict_proba")

    @classmethod
    def load(cls, path: Path, declared_feature_count: int | None) -> SklearnRunner:
        return cls(load_model(path), declared_feature_count)

    def predict(self, features: Array) -> Array:
        _skip_repeated_finite_check()
        return np.asarray(self.estimator.predict(features))

    def predict_proba(self, features: Array) -> Array:
        _skip_repeated_finite_check()
        return np.asarray(self.estimator.predict_proba(features))


class OnnxRunner:
    runtime = ONNXRUNTIME
    platform = "onnxruntime_onnx"

    def __init__(self, session: Any, interface: OnnxInterface) -> None:
        self._run = session.run
        self.interface = interface
        self._input_name = interface.input_name
        self._input_dtype = np.dtype(interface.input_dtype)
        self._predict_outputs = [interface.predict_output]
        self._proba_outputs = [interface.proba_output] if interface.proba_output else []
        self._predict_dtype = None if interface.predict_dtype == "str" else np.dtype(interface.predict_dtype)
        self.feature_count: int | None = interface.feature_count
        self.label_datatype = "BYTES" if self._predict_dtype is None else datatype_of(self._predict_dtype)
        self.class_count = interface.class_count
        self.has_proba = interface.proba_output is not None

    @classmethod
    def load(cls, path: Path) -> OnnxRunner:
        try:
            session = open_session(str(path))
            meta = session.get_modelmeta().custom_metadata_map
            interface = OnnxInterface.from_json(meta.get(METADATA_KEY, ""))
        except InterfaceError as error:
            raise ModelLoadError(f"{path.name}: {error}") from None
        except Exception as error:  # onnxruntime's own error types: a file it cannot open
            raise ModelLoadError(f"{path.name}: {type(error).__name__}: {error}") from error
        return cls(session, interface)

    def predict(self, features: Array) -> Array:
        labels: Array = self._run(self._predict_outputs, {self._input_name: self._input(features)})[0]
        if self._predict_dtype is not None and labels.dtype != self._predict_dtype:
            labels = labels.astype(self._predict_dtype)
        if labels.ndim == self.interface.predict_ndim:
            return labels
        # e.g. a single-target regressor: (rows, 1) from the graph, (rows,) from scikit-learn
        return labels.reshape(-1) if self.interface.predict_ndim == 1 else labels.reshape(len(features), -1)

    def predict_proba(self, features: Array) -> Array:
        if not self._proba_outputs:
            raise AttributeError("predict_proba")
        probabilities: Array = self._run(self._proba_outputs, {self._input_name: self._input(features)})[0]
        return probabilities.astype(np.float64, copy=False)

    def _input(self, features: Array) -> Array:
        if features.dtype.kind not in "biuf":
            raise ValueError("the model takes numbers, not strings")
        return features.astype(self._input_dtype, copy=False)


def _skip_repeated_finite_check() -> None:
    """scikit-learn scans every input for NaN and infinity; the request parser has already refused both, so the
    scan is switched off, once per thread (scikit-learn keeps its settings per thread)."""
    if not getattr(_thread_config, "assume_finite", False):
        import sklearn

        sklearn.set_config(assume_finite=True)
        _thread_config.assume_finite = True


def _has_method(estimator: Any, method: str) -> bool:
    try:
        return callable(getattr(estimator, method, None))
    except Exception:  # available_if raises when the method does not apply to this configuration
        return False
