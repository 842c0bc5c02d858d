"""Warm figure: a V2 infer through the inference handler, model cached, against a bare ``model.predict``."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import joblib
import numpy as np

from bench.environment import PATH_NAMES, function_settings, overlay
from bench.events import (
    answer_body,
    predict_output,
    served_runtime,
    v2_binary_infer_event,
    v2_infer_event,
    v2_metadata_event,
)
from bench.models import ONE_ROW, IrisModel, batch
from bench.publishing import published_file
from bench.results import Figure
from bench.timing import BenchError, interleaved, median
from lambdas.common.settings import Settings
from local_stack.lambda_context import LocalLambdaContext

# One-row targets by (fast path, model); the 1,000-row batch has none.
TARGETS = {
    (False, "LR"): 1.3,
    (False, "RF"): 1.05,
    (True, "LR"): 0.5,
    (True, "RF"): 0.05,
    (True, "XGBoost"): 0.25,  # revised: the request around the model costs more than a tenth of its predict
    (True, "LightGBM"): 0.1,
}
# Enough timed pairs for a stable median; a forest's predict takes milliseconds, a logistic regression's microseconds.
ITERATIONS = {
    ("LR", 1): 3000,
    ("LR", 1000): 400,
    ("RF", 1): 400,
    ("RF", 1000): 100,
    ("XGBoost", 1): 1000,
    ("LightGBM", 1): 1000,
}
MICROSECONDS = 1e6


# 1,000-row targets by (fast path, model, body form).
BATCH_TARGETS = {(False, "LR", "JSON"): 2.5, (False, "LR", "binary"): 1.5, (True, "RF", "binary"): 0.25}


@dataclass(frozen=True)
class Workload:
    label: str
    rows: list[list[float]]
    binary: bool = False  # the binary tensor extension instead of JSON numbers

    @property
    def form(self) -> str:
        return "binary" if self.binary else "JSON"


def measure_warm(model_dirs: Mapping[bool, Path], models: list[IrisModel], *, scale: float = 1.0) -> list[Figure]:
    """For each path (ONNX_FAST_PATH false, then true) and model: one row, then a 1,000-row batch.

    ``model_dirs`` maps ONNX_FAST_PATH to the directory the loader published into with that setting.
    """
    from lambdas.inference import handler

    rows = batch()
    workloads = [
        Workload("1 row", ONE_ROW),
        Workload(f"{len(rows):,} rows", rows),
        Workload(f"{len(rows):,} rows, binary tensors", rows, binary=True),
    ]
    figures: list[Figure] = []
    for fast, model_dir in model_dirs.items():
        env = function_settings(model_dir, fast)
        with overlay(env):
            handler.configure(Settings.from_env(env))
            try:
                for model in models:
                    for workload in workloads:
                        figures.append(_measure(handler, model, model_dir, fast, workload, scale))
            finally:
                handler.configure(Settings.from_env())
    return figures


def measure_families(model_dir: Path, models: list[IrisModel], *, scale: float = 1.0) -> list[Figure]:
    """XGBoost and LightGBM, one row, on the fast path (ONNX_FAST_PATH true, published into ``model_dir``)."""
    from lambdas.inference import handler

    env = function_settings(model_dir, True)
    with overlay(env):
        handler.configure(Settings.from_env(env))
        try:
            return [_measure(handler, model, model_dir, True, Workload("1 row", ONE_ROW), scale) for model in models]
        finally:
            handler.configure(Settings.from_env())


def _measure(
    handler: ModuleType, model: IrisModel, model_dir: Path, fast: bool, workload: Workload, scale: float
) -> Figure:
    context = LocalLambdaContext("inference")
    # The baseline predicts with the very file the loader published, as a user holding that file would.
    model_file = published_file(model_dir, model.name)
    estimator = joblib.load(model_file)
    features = np.asarray(workload.rows)
    event = (v2_binary_infer_event if workload.binary else v2_infer_event)(model.name, workload.rows)

    def ours() -> Any:
        return handler.lambda_handler(event, context)

    def baseline() -> Any:
        return estimator.predict(features)

    runtime = _runtime(handler, model.name, context)
    _check(ours(), baseline(), model.name)
    iterations = max(5, round(ITERATIONS[(model.label, len(workload.rows))] * scale))
    ours_times, baseline_times = interleaved(
        ours, baseline, iterations, warmup=max(2, iterations // 10), setup_baseline=_scikit_learn_defaults
    )
    _check(ours(), baseline(), model.name)
    runtime_after = _runtime(handler, model.name, context)
    served = runtime if runtime_after == runtime else f"{runtime}, then {runtime_after}"
    return Figure(
        name=f"warm {model.label} {workload.label}, {PATH_NAMES[fast]}, served by {served}",
        ours=median(ours_times) * MICROSECONDS,
        baseline=median(baseline_times) * MICROSECONDS,
        unit="us (p50)",
        target=(
            TARGETS.get((fast, model.label))
            if len(workload.rows) == 1
            else BATCH_TARGETS.get((fast, model.label, workload.form))
        ),
        context={
            "figure": "warm",
            "model": model.label,
            "rows": len(workload.rows),
            "body": workload.form,
            "onnx_fast_path": fast,
            "runtime": served,
            "iterations": iterations,
        },
    )


def _scikit_learn_defaults() -> Any:
    """The baseline runs with scikit-learn's default settings, as a user's own call would. The inference function
    turns scikit-learn's NaN/infinity scan off in its thread (it has refused both already): not for the baseline."""
    import sklearn

    saved = sklearn.get_config()["assume_finite"]
    sklearn.set_config(assume_finite=False)
    return lambda: sklearn.set_config(assume_finite=saved)


def _runtime(handler: ModuleType, name: str, context: LocalLambdaContext) -> str:
    try:
        return served_runtime(answer_body(handler.lambda_handler(v2_metadata_event(name), context)))
    except ValueError as error:
        raise BenchError(f"GET /v2/models/{name}: {error}") from None


def _check(response: dict[str, Any], expected: Any, name: str) -> None:
    try:
        answer = predict_output(answer_body(response))
    except ValueError as error:
        raise BenchError(f"{name}: the handler did not answer: {error}") from None
    if answer != np.asarray(expected).tolist():
        raise BenchError(f"{name}: the handler's predictions differ from model.predict")
