"""The models the figures serve: two iris classifiers, and the rows they are asked about."""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Any

import joblib
import numpy as np

ONE_ROW = [[5.1, 3.5, 1.4, 0.2]]
BATCH_ROWS = 1000


@dataclass(frozen=True)
class IrisModel:
    label: str  # as the table shows it
    name: str  # as the repository and the API name it
    estimator: Any


def train_iris_models() -> list[IrisModel]:
    from sklearn.datasets import load_iris
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.linear_model import LogisticRegression

    features, labels = load_iris(return_X_y=True)
    return [
        IrisModel("LR", "iris-lr", LogisticRegression(max_iter=1000).fit(features, labels)),
        IrisModel("RF", "iris-rf", RandomForestClassifier(n_estimators=100, random_state=0).fit(features, labels)),
    ]


def batch(rows: int = BATCH_ROWS) -> list[list[float]]:
    """Iris flowers drawn with a fixed seed, so every run asks the same question."""
    from sklearn.datasets import load_iris

    features = load_iris().data
    picked = features[np.random.default_rng(0).integers(0, len(features), rows)]
    return [[float(value) for value in row] for row in picked]


def joblib_bytes(estimator: Any) -> bytes:
    buffer = io.BytesIO()
    joblib.dump(estimator, buffer)
    return buffer.getvalue()
