"""Batch worker figure: one worker's rows per second on a CSV chunk (its lines found, decoded by the model's
signature, answered, encoded as answer lines; the S3 emulator left out: the chunk is read from memory) against the
script a data scientist writes on the same rows: ``pandas.read_csv``, ``predict``, ``to_csv``. Target >= 1.0 for
LR, RF and the DataFrame pipeline, each on the runtime the loader published it for (the fast path where converted).
"""

from __future__ import annotations

import functools
import io
import time
from pathlib import Path
from typing import Any

import joblib
import numpy as np

from bench import tabular
from bench.environment import function_settings, overlay
from bench.models import IrisModel
from bench.publishing import published_file
from bench.results import Figure
from bench.timing import BenchError, median
from lambdas.batch.chunk import column_types, score_chunk
from lambdas.batch.lines import owned_lines
from lambdas.batch.table import answer_lines, header, read_rows
from lambdas.common.settings import Settings

ROWS = 20_000
ROUNDS = 7


def measure_batch(model_dir: Path, models: list[IrisModel], *, scale: float = 1.0) -> list[Figure]:
    """Each model on a chunk of ``ROWS`` rows, best-of-rounds medians of both sides, alternating."""
    from lambdas.inference.cache import ModelCache

    rows = max(200, round(ROWS * scale))
    rounds = max(2, round(ROUNDS * scale)) if scale < 1 else ROUNDS
    env = function_settings(model_dir, True)
    figures = []
    with overlay(env):
        settings = Settings.from_env(env)
        cache = ModelCache(settings.model_dir, max_bytes=1 << 30, refresh_seconds=60.0, serve_onnx=True)
        cases: list[tuple[str, str, Any]] = [(model.label, model.name, _iris_csv(rows)) for model in models]
        cases.append(("DataFrame pipeline", tabular.NAME, _frame_csv(rows)))
        for label, name, data in cases:
            served = cache.get(name)
            estimator = joblib.load(published_file(model_dir, name))
            ours_answers, ours_seconds = _rounds(functools.partial(_worker, served, data), rounds)
            theirs_answers, theirs_seconds = _rounds(functools.partial(_pandas, estimator, data), rounds)
            if ours_answers != theirs_answers:
                raise BenchError(f"batch {label}: the worker's answers differ from the pandas script's")
            figures.append(
                Figure(
                    name=f"batch worker, {label}, {rows:,}-row CSV chunk, served by {served.runner.runtime}",
                    ours=rows / ours_seconds,
                    baseline=rows / theirs_seconds,
                    unit="rows/s",
                    better="higher",
                    target=1.0,
                    context={"figure": "batch", "model": label, "rows": rows, "runtime": served.runner.runtime},
                )
            )
    return figures


def _rounds(run: Any, rounds: int) -> tuple[list[Any], float]:
    answers, times = None, []
    for _ in range(rounds):
        started = time.perf_counter()
        answers = run()
        times.append(time.perf_counter() - started)
    return list(answers or []), median(times)


def _worker(served: Any, data: bytes) -> list[Any]:
    first = data.split(b"\n", 1)[0]
    names = header(first)

    def read(start: int, last: int) -> bytes:
        return data[start : last + 1]

    lines = owned_lines(read, len(first) + 1, len(data), len(data), len(first) + 1)
    rows = read_rows("csv", lines, names, column_types(served.signature, names))
    scored = score_chunk(served.runner, served.signature, rows.columns, first_row=0, text=True)
    out = answer_lines("csv", lines, rows, scored, 0, join=False)
    return out.decode().splitlines()


def _pandas(estimator: Any, data: bytes) -> list[Any]:
    import pandas as pd

    frame = pd.read_csv(io.BytesIO(data))
    features = frame if hasattr(estimator, "feature_names_in_") else frame.to_numpy()
    text: str = pd.DataFrame({"predict": estimator.predict(features)}).to_csv(index=False, header=False)
    return text.splitlines()


def _iris_csv(rows: int) -> bytes:
    from sklearn.datasets import load_iris

    data = np.resize(load_iris().data, (rows, 4))
    lines = [
        "sepal_length,sepal_width,petal_length,petal_width",
        *(",".join(repr(float(v)) for v in row) for row in data),
    ]
    return ("\n".join(lines) + "\n").encode()


def _frame_csv(rows: int) -> bytes:
    text: str = tabular.training_frame(rows).to_csv(index=False)
    return text.encode()
