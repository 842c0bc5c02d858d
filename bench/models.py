"""The models the figures serve: two iris classifiers, an XGBoost and a LightGBM one, and the rows they are asked
about."""

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


FAMILY_TREES = 100


def train_family_models() -> list[IrisModel]:
    """100-tree XGBoost and LightGBM classifiers on iris, through their scikit-learn APIs."""
    import lightgbm
    import xgboost
    from sklearn.datasets import load_iris

    features, labels = load_iris(return_X_y=True)
    estimators: dict[tuple[str, str], Any] = {
        ("XGBoost", "iris-xgb"): xgboost.XGBClassifier(n_estimators=FAMILY_TREES, n_jobs=1),
        ("LightGBM", "iris-lgbm"): lightgbm.LGBMClassifier(n_estimators=FAMILY_TREES, verbose=-1, n_jobs=1),
    }
    return [IrisModel(label, name, estimator.fit(features, labels)) for (label, name), estimator in estimators.items()]


def family_sample() -> bytes:
    """The rows a team would check its model on, uploaded beside it as the probe set of the conversion."""
    import json

    from sklearn.datasets import load_iris

    return json.dumps({"instances": load_iris().data[1::3].tolist()}).encode()


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
