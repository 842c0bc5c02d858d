"""The BentoML peer of ``make bench-peers``: one service holding every ``NAME.joblib`` of ``BENCH_PEER_MODELS``,
each loaded once, asked in BentoML's own JSON: ``POST /predict`` with ``{"model": NAME, "rows": [[...]]}`` (rows as
a numpy array, BentoML's idiomatic array input) and ``POST /predict_frame`` with ``{"model": NAME, "records":
[{...}]}`` for a DataFrame pipeline. The answer is the list of labels. ``BENCH_PEER_WORKERS`` worker processes.

Run with the peer venv: ``bentoml serve bentoml_service:Models --port PORT``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import bentoml
import joblib
import numpy as np
import pandas as pd

MODELS = Path(os.environ.get("BENCH_PEER_MODELS", "."))
WORKERS = int(os.environ.get("BENCH_PEER_WORKERS", "1"))


@bentoml.service(workers=WORKERS)
class Models:
    def __init__(self) -> None:
        self.models = {path.stem: joblib.load(path) for path in sorted(MODELS.glob("*.joblib"))}

    @bentoml.api
    def predict(self, model: str, rows: np.ndarray) -> list[Any]:
        answers: list[Any] = self.models[model].predict(rows).tolist()
        return answers

    @bentoml.api
    def predict_frame(self, model: str, records: list[dict[str, Any]]) -> list[Any]:
        answers: list[Any] = self.models[model].predict(pd.DataFrame.from_records(records)).tolist()
        return answers
