"""The inference handler serving the iris repository on either runtime, and a way to invoke it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from lambdas.common.settings import Settings
from tests.support.context import inference_context
from tests.support.inference import Invoke, TrainedModels, onnx_conversion, publish, settings


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


@pytest.fixture
def invoke(handler: ModuleType) -> Invoke:
    def call(event: dict[str, Any]) -> dict[str, Any]:
        response: dict[str, Any] = handler.lambda_handler(event, inference_context())
        return response

    return call
