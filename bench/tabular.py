"""Tabular figure: a DataFrame pipeline (OneHotEncoder on 4 string columns, StandardScaler on 6 numeric, then
LogisticRegression) asked one row with one V2 input per column through the inference handler, against a bare
``pipeline.predict`` of the same one-row DataFrame."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import joblib
import numpy as np

from bench.environment import PATH_NAMES, function_settings, overlay
from bench.events import answer_body, http_api_event, predict_output, served_runtime, v2_metadata_event
from bench.publishing import published_file
from bench.results import Figure
from bench.timing import BenchError, interleaved, median
from lambdas.common.settings import Settings
from local_stack.lambda_context import LocalLambdaContext

NAME = "churn"
STRINGS = ("city", "plan", "device", "channel")
NUMBERS = ("age", "income", "tenure", "visits", "spend", "rating")
TARGETS = {False: 1.1, True: 0.05}
ITERATIONS = 600
MICROSECONDS = 1e6


def training_frame(rows: int = 500) -> Any:
    import pandas as pd

    rng = np.random.default_rng(0)
    columns: dict[str, Any] = {name: rng.normal(0, 1, rows) for name in NUMBERS}
    categories = (["Oslo", "Rome", "Lima"], ["basic", "pro"], ["ios", "web"], ["ads", "tv"])
    for name, values in zip(STRINGS, categories, strict=True):
        columns[name] = rng.choice(values, rows)
    return pd.DataFrame(columns)


def train_pipeline() -> Any:
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    frame = training_frame()
    target = ((frame["age"] > 0) ^ (frame["plan"] == "pro")).astype(int)
    preprocess = ColumnTransformer(
        [
            ("numbers", StandardScaler(), list(NUMBERS)),
            ("strings", OneHotEncoder(handle_unknown="ignore"), list(STRINGS)),
        ]
    )
    return Pipeline([("preprocess", preprocess), ("model", LogisticRegression())]).fit(frame, target)


def per_column_request(frame: Any) -> dict[str, Any]:
    return {
        "parameters": {"content_type": "pd"},
        "inputs": [
            {
                "name": name,
                "shape": [len(frame)],
                "datatype": "BYTES" if name in STRINGS else "FP64",
                "data": frame[name].tolist(),
            }
            for name in frame.columns
        ],
    }


def measure_tabular(model_dirs: Mapping[bool, Path], *, scale: float = 1.0) -> list[Figure]:
    from lambdas.inference import handler

    figures = []
    row = training_frame(1)
    event = http_api_event("POST", f"/v2/models/{NAME}/infer", per_column_request(row))
    for fast, model_dir in model_dirs.items():
        env = function_settings(model_dir, fast)
        with overlay(env):
            handler.configure(Settings.from_env(env))
            try:
                figures.append(_measure(handler, model_dir, fast, event, row, scale))
            finally:
                handler.configure(Settings.from_env())
    return figures


def _measure(handler: Any, model_dir: Path, fast: bool, event: dict[str, Any], row: Any, scale: float) -> Figure:
    context = LocalLambdaContext("inference")
    pipeline = joblib.load(published_file(model_dir, NAME))

    def ours() -> Any:
        return handler.lambda_handler(event, context)

    def baseline() -> Any:
        return pipeline.predict(row)

    try:
        answer = predict_output(answer_body(ours()))
        runtime = served_runtime(answer_body(handler.lambda_handler(v2_metadata_event(NAME), context)))
    except ValueError as error:
        raise BenchError(f"{NAME}: the handler did not answer: {error}") from None
    if answer != baseline().tolist():
        raise BenchError(f"{NAME}: the handler's predictions differ from pipeline.predict")
    iterations = max(5, round(ITERATIONS * scale))
    ours_times, baseline_times = interleaved(ours, baseline, iterations, warmup=max(2, iterations // 10))
    return Figure(
        name=f"warm DataFrame pipeline 1 row, {PATH_NAMES[fast]}, served by {runtime}",
        ours=median(ours_times) * MICROSECONDS,
        baseline=median(baseline_times) * MICROSECONDS,
        unit="us (p50)",
        target=TARGETS[fast],
        context={
            "figure": "warm",
            "model": "DataFrame pipeline",
            "rows": 1,
            "onnx_fast_path": fast,
            "runtime": runtime,
        },
    )
