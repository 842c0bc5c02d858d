"""The two runtimes a model answers on: scikit-learn with the uploaded file, or onnxruntime with the conversion the
loader checked against it. Both take the same feature arrays and give answers of the same shapes and types.

Each is imported on first use: a process that only serves ONNX models never imports scikit-learn.
"""

from __future__ import annotations

import threading
import warnings
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from lambdas.common import signature
from lambdas.common.batch import Batch
from lambdas.common.datatypes import datatype_of
from lambdas.common.errors import BadRequest, ModelUnavailable
from lambdas.common.libraries import has_method
from lambdas.common.models import ModelLoadError, check_estimator, load_model
from lambdas.common.onnx_interface import METADATA_KEY, InterfaceError, OnnxInterface, column_feeds, open_session
from lambdas.common.payloads import Array
from lambdas.common.signature import Signature

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

    def predict(self, batch: Batch) -> Array: ...

    def predict_proba(self, batch: Batch) -> Array: ...

    def fallback_signature(self) -> Signature: ...


def import_runtime(path: Path) -> None:
    """Import the library that will load ``path``: onnxruntime for a conversion, joblib and scikit-learn else."""
    if path.suffix == ".onnx":
        import onnxruntime  # noqa: F401
    else:
        import joblib  # noqa: F401
        import sklearn  # noqa: F401


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
        self.has_proba = single_output and has_method(estimator, "predict_proba")
        # A model fitted on an array (no feature_names_in_) whose MLmodel names its columns takes them as an array.
        self._takes_frame = signature.column_names(estimator) is not None

    @classmethod
    def load(cls, path: Path, declared_feature_count: int | None, trusted: Sequence[str] = ()) -> SklearnRunner:
        return cls(load_model(path, trusted=trusted), declared_feature_count)

    def predict(self, batch: Batch) -> Array:
        return np.asarray(self._call(self.estimator.predict, batch))

    def predict_proba(self, batch: Batch) -> Array:
        return np.asarray(self._call(self.estimator.predict_proba, batch))

    def fallback_signature(self) -> Signature:
        return signature.fallback(
            self.feature_count,
            signature.column_names(self.estimator),
            self.label_datatype,
            self.class_count,
            self.has_proba,
        )

    def _call(self, method: Any, batch: Batch) -> Any:
        rows: Any = batch.features
        if batch.columns is not None:
            rows = _frame(batch.columns, batch.missing) if self._takes_frame else _stacked(batch.columns)
        if batch.missing:  # the model decides what a missing value means: its own checks must run
            import sklearn

            with sklearn.config_context(assume_finite=False):
                return _with_one_warning_filter(method, rows)
        _skip_repeated_finite_check()
        return _with_one_warning_filter(method, rows)


class OnnxRunner:
    runtime = ONNXRUNTIME
    platform = "onnxruntime_onnx"

    def __init__(
        self, session: Any, interface: OnnxInterface, model_file: Path | None = None, trusted: Sequence[str] = ()
    ) -> None:
        self._run = session.run
        self.model_file = model_file
        self._trusted = tuple(trusted)
        self._sklearn: SklearnRunner | None = None
        self._sklearn_lock = threading.Lock()
        # Told of the scikit-learn model once it is loaded for rows with missing values, so what it holds is
        # counted in the model cache's budget too (see lambdas.inference.cache).
        self.on_fallback: Callable[[SklearnRunner], None] | None = None
        self.fallback_bytes = 0
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
    def load(cls, path: Path, model_file: Path | None = None, trusted: Sequence[str] = ()) -> OnnxRunner:
        try:
            session = open_session(str(path))
            meta = session.get_modelmeta().custom_metadata_map
            interface = OnnxInterface.from_json(meta.get(METADATA_KEY, ""))
        except InterfaceError as error:
            raise ModelLoadError(f"{path.name}: {error}") from None
        except Exception as error:  # onnxruntime's own error types: a file it cannot open
            raise ModelLoadError(f"{path.name}: {type(error).__name__}: {error}") from error
        return cls(session, interface, model_file, trusted)

    def predict(self, batch: Batch) -> Array:
        if batch.missing and not self.interface.missing_checked and self.interface.missing_refusal is None:
            return self._scikit_learn().predict(batch)
        labels: Array = self._run(self._predict_outputs, self._feeds(batch))[0]
        if self._predict_dtype is not None and labels.dtype != self._predict_dtype:
            labels = labels.astype(self._predict_dtype)
        if labels.ndim == self.interface.predict_ndim:
            return labels
        # e.g. a single-target regressor: (rows, 1) from the graph, (rows,) from scikit-learn
        return labels.reshape(-1) if self.interface.predict_ndim == 1 else labels.reshape(batch.rows, -1)

    def predict_proba(self, batch: Batch) -> Array:
        if not self._proba_outputs:
            raise AttributeError("predict_proba")
        if batch.missing and not self.interface.missing_checked and self.interface.missing_refusal is None:
            return self._scikit_learn().predict_proba(batch)
        probabilities: Array = self._run(self._proba_outputs, self._feeds(batch))[0]
        return probabilities.astype(np.float64, copy=False)

    def fallback_signature(self) -> Signature:
        names = tuple(name for name, _ in self.interface.columns) or None
        features = None if names else self.feature_count
        return signature.fallback(features, names, self.label_datatype, self.class_count, self.has_proba)

    def _scikit_learn(self) -> SklearnRunner:
        """The model file, loaded the first time rows with missing values arrive that the conversion was not shown
        to answer as scikit-learn does."""
        with self._sklearn_lock:
            if self._sklearn is None:
                if self.model_file is None:
                    raise ValueError("this conversion does not take rows with missing values")
                try:
                    self._sklearn = SklearnRunner.load(self.model_file, self.feature_count, self._trusted)
                except ModelLoadError as error:
                    raise ModelUnavailable(
                        f"the model file for rows with missing values does not load: {error}"
                    ) from None
                if self.on_fallback is not None:
                    self.on_fallback(self._sklearn)
            return self._sklearn

    def _feeds(self, batch: Batch) -> dict[str, Array]:
        if batch.missing and self.interface.missing_refusal is not None:
            raise BadRequest(f"the model rejected the input: {self.interface.missing_refusal}")
        if self.interface.columns:
            if batch.columns is None:
                raise ValueError("the model takes named columns")
            return column_feeds(batch.columns, self.interface)
        return {self._input_name: self._input(batch)}

    def _input(self, batch: Batch) -> Array:
        if batch.features is not None:
            features = batch.features
        elif batch.columns is not None:  # a model fitted on numeric named columns: the columns in its order
            features = np.column_stack(list(batch.columns.values()))
        else:
            raise ValueError("no input")
        if features.dtype.kind not in "biuf":
            raise ValueError("the model takes numbers, not strings")
        return features.astype(self._input_dtype, copy=False)


def _frame(columns: Mapping[str, Array], missing: bool) -> Any:
    """The DataFrame a named model is asked with. The codecs have made every column a 1-D array of the batch's
    length, so complete rows skip pandas' per-column checks and string inference (a third of a one-row request's
    overhead): a column of strings stays an object column, as scikit-learn's encoders read it anyway. Rows with a
    missing value take pandas' own constructor, so a missing string becomes what pandas makes of it."""
    import pandas  # imported on first use: positional models never need it

    build = getattr(pandas.DataFrame, "_from_arrays", None)
    if missing or build is None:
        return pandas.DataFrame(dict(columns), copy=False)
    arrays = list(columns.values())
    index = pandas.RangeIndex(len(arrays[0]) if arrays else 0)
    return build(arrays, columns=pandas.Index(list(columns)), index=index, verify_integrity=False)


def _stacked(columns: Mapping[str, Array]) -> Array:
    """Named columns as the one array a positional model was fitted on, in the signature's order: numbers as
    float64, a table that mixes strings and numbers as objects."""
    arrays = list(columns.values())
    if all(array.dtype.kind in "biuf" for array in arrays):
        return np.column_stack([array.astype(np.float64, copy=False) for array in arrays])
    stacked = np.empty((len(arrays[0]), len(arrays)), dtype=object)
    for index, array in enumerate(arrays):
        stacked[:, index] = array
    return stacked


def _skip_repeated_finite_check() -> None:
    """scikit-learn scans every input for NaN and infinity; the codecs have refused infinities and say when a value
    is missing, so for complete rows the scan is switched off, once per thread (scikit-learn keeps its settings per
    thread)."""
    if not getattr(_thread_config, "assume_finite", False):
        import sklearn

        sklearn.set_config(assume_finite=True)
        _thread_config.assume_finite = True


def _with_one_warning_filter(method: Callable[[Any], Any], rows: Any) -> Any:
    """``method(rows)`` with its warnings shown as they would have been, each once.

    scikit-learn's ensembles re-install every warning filter of the process for each of their estimators, to carry
    them into joblib's workers: the 9 to 11 filters that numpy, pandas and the libraries here install, replayed for
    each of a forest's 100 trees, doubled the forest's one-row predict. While the model answers, one filter records
    what it warns; each distinct warning is then issued again under the process's own filters.
    """
    caught: list[warnings.WarningMessage] = []
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.resetwarnings()
            warnings.simplefilter("always")
            return method(rows)
    finally:
        distinct = {(str(w.message), w.category, w.filename, w.lineno): w for w in caught}
        for w in distinct.values():
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)


def answer(runner: Runner, batch: Batch, output: str, what: str) -> Array:
    """One output (``predict`` or ``predict_proba``) for a batch; input the model cannot take is a BadRequest with
    the model's reason, running out of memory a ModelUnavailable. ``what`` names the model in the messages."""
    from lambdas.common.reasons import reason
    from lambdas.common.signature import PREDICT_PROBA

    if output == PREDICT_PROBA and not runner.has_proba:
        raise BadRequest(f"{what} does not provide predict_proba")
    try:
        result: Array = getattr(runner, output)(batch)
    except (ValueError, TypeError, AttributeError, KeyError) as error:  # input the model cannot take
        raise BadRequest(f"the model rejected the input: {reason(error, with_type=False)}") from None
    except MemoryError:  # the function stays up; a smaller batch, or more memory, can be answered
        raise ModelUnavailable(f"{what} ran out of memory answering {batch.rows} rows") from None
    return result
