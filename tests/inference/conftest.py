"""Tiny models trained once per session, and a model repository per test served by the inference handler."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pytest
from sklearn.datasets import load_iris
from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor
from sklearn.linear_model import LogisticRegression

from lambdas.common.settings import Settings
from tests.inference.support import onnx_conversion, publish


@dataclass(frozen=True)
class TrainedModels:
    features: np.ndarray
    logistic: Any
    forest: Any
    named_labels: Any  # classes are strings
    regressor: Any


@pytest.fixture(scope="session")
def trained() -> TrainedModels:
    features, target = load_iris(return_X_y=True)
    names = np.asarray(["setosa", "versicolor", "virginica"])[target]
    return TrainedModels(
        features=features,
        logistic=LogisticRegression(max_iter=500).fit(features, target),
        forest=RandomForestClassifier(n_estimators=5, max_depth=3, random_state=0).fit(features, target),
        named_labels=LogisticRegression(max_iter=500).fit(features, names),
        regressor=RandomForestRegressor(n_estimators=3, max_depth=3, random_state=0).fit(
            features[:, :3], features[:, 3]
        ),
    )


@pytest.fixture
def model_dir(tmp_path: Path) -> Path:
    directory = tmp_path / "ml"
    directory.mkdir()
    return directory


@pytest.fixture(scope="session")
def conversions(trained: TrainedModels) -> dict[str, bytes]:
    return {"logistic": onnx_conversion(trained.logistic), "forest": onnx_conversion(trained.forest)}


@pytest.fixture(params=["scikit-learn", "onnxruntime"])
def runtime(request: pytest.FixtureRequest) -> str:
    """The runtime serving iris: every test of the API runs on both, since both must answer the same."""
    return str(request.param)


@pytest.fixture
def handler(
    model_dir: Path, trained: TrainedModels, runtime: str, conversions: dict[str, bytes]
) -> Iterator[ModuleType]:
    """The inference handler module serving a repository that holds iris v1 (logistic) and v2 (forest), on
    scikit-learn or, with their conversions beside them, on onnxruntime."""
    from lambdas.inference import handler as module

    fast = runtime == "onnxruntime"
    publish(model_dir, "iris", 1, trained.logistic, onnx=conversions["logistic"] if fast else None)
    publish(model_dir, "iris", 2, trained.forest, onnx=conversions["forest"] if fast else None)
    module.configure(settings(model_dir))
    yield module
    module.configure(Settings.from_env())


def settings(model_dir: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "model_dir": model_dir,
        "model_prefix": "",
        "cache_max_bytes": 64 * 1024 * 1024,
        "refresh_seconds": 5.0,
        "max_request_bytes": 6 * 1024 * 1024,
        "allowed_suffixes": frozenset({".joblib", ".pkl", ".skops"}),
    }
    values.update(overrides)
    return Settings(**values)


@dataclass
class FakeContext:
    aws_request_id: str = "req-0123456789"
    function_name: str = "inference"
    memory_limit_in_mb: int = 1024
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:inference"


Invoke = Callable[[dict[str, Any]], dict[str, Any]]


@pytest.fixture
def invoke(handler: ModuleType) -> Invoke:
    def call(event: dict[str, Any]) -> dict[str, Any]:
        response: dict[str, Any] = handler.lambda_handler(event, FakeContext())
        return response

    return call
