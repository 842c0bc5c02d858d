"""The fast path serves the loader's ONNX conversion with onnxruntime, answering as scikit-learn does, and falls
back to scikit-learn whenever the conversion is missing, switched off or unreadable."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pytest
from sklearn.datasets import load_iris
from sklearn.ensemble import GradientBoostingClassifier, RandomForestClassifier, RandomForestRegressor
from sklearn.linear_model import LogisticRegression, Ridge

from lambdas.common.repository import ONNX_FILE, version_dir
from tests.support.context import inference_context
from tests.support.inference import event_for, onnx_conversion, publish, response_json, settings, v2_request
from tests.support.paths import REPO

FEATURES, LABELS = load_iris(return_X_y=True)
SPECIES = np.asarray(["setosa", "versicolor", "virginica"])[LABELS]


def _rows_on_thresholds(forest: Any, count: int, seed: int) -> np.ndarray:
    """Rows whose features sit exactly on the forest's split thresholds, where float rounding changes a branch."""
    rng = np.random.default_rng(seed)
    rows = rng.uniform(0.0, 8.0, (count, FEATURES.shape[1]))
    for feature in range(FEATURES.shape[1]):
        values = np.concatenate([t.tree_.threshold[t.tree_.feature == feature] for t in forest.estimators_])
        if len(values):
            rows[:, feature] = rng.choice(values, count)
    return rows


@pytest.fixture
def served(model_dir: Path) -> Iterator[ModuleType]:
    from lambdas.inference import handler as module

    module.configure(settings(model_dir, refresh_seconds=0.0))
    yield module
    module.configure(settings(model_dir))


def _infer(handler: ModuleType, name: str, rows: np.ndarray, outputs: list[str]) -> dict[str, Any]:
    request = v2_request(rows.tolist(), list(rows.shape), outputs=[{"name": output} for output in outputs])
    response = handler.lambda_handler(
        event_for("http", "POST", f"/v2/models/{name}/infer", request), inference_context()
    )
    assert response["statusCode"] == 200, response["body"]
    return {output["name"]: output for output in response_json(response)["outputs"]}


def _platform(handler: ModuleType, name: str) -> str:
    response = handler.lambda_handler(event_for("http", "GET", f"/v2/models/{name}", None), inference_context())
    return str(response_json(response)["platform"])


FOREST = RandomForestClassifier(n_estimators=100, random_state=1).fit(FEATURES, LABELS)
MODELS = {
    "logistic": LogisticRegression(max_iter=1000).fit(FEATURES, LABELS),
    "forest": FOREST,
    "boosting": GradientBoostingClassifier(n_estimators=20, random_state=0).fit(FEATURES, LABELS),
    "species": RandomForestClassifier(n_estimators=20, random_state=0).fit(FEATURES, SPECIES),
    "ridge": Ridge().fit(FEATURES[:, :3], FEATURES[:, 3]),
    "regressor": RandomForestRegressor(n_estimators=20, random_state=0).fit(FEATURES[:, :3], FEATURES[:, 3]),
}


@pytest.mark.parametrize("name", sorted(MODELS))
def test_the_fast_path_answers_as_scikit_learn_does(served: ModuleType, model_dir: Path, name: str) -> None:
    model = MODELS[name]
    width = model.n_features_in_
    rows = np.vstack([FEATURES[:, :width], _rows_on_thresholds(FOREST, 300, seed=7)[:, :width]])
    outputs = ["predict", "predict_proba"] if hasattr(model, "predict_proba") else ["predict"]
    publish(model_dir, f"{name}-sklearn", 1, model)
    publish(model_dir, f"{name}-onnx", 1, model, onnx=onnx_conversion(model))

    expected = _infer(served, f"{name}-sklearn", rows, outputs)
    answered = _infer(served, f"{name}-onnx", rows, outputs)

    assert (_platform(served, f"{name}-sklearn"), _platform(served, f"{name}-onnx")) == ("sklearn", "onnxruntime_onnx")
    for output in outputs:
        assert {k: v for k, v in answered[output].items() if k != "data"} == {
            k: v for k, v in expected[output].items() if k != "data"
        }, "same names, shapes and datatypes"
    if expected["predict"]["datatype"] == "FP64":  # regression values
        np.testing.assert_allclose(answered["predict"]["data"], expected["predict"]["data"], rtol=1e-5, atol=1e-5)
    else:
        assert answered["predict"]["data"] == expected["predict"]["data"]
    if "predict_proba" in outputs:
        np.testing.assert_allclose(answered["predict_proba"]["data"], expected["predict_proba"]["data"], atol=1e-5)


def test_an_unreadable_conversion_falls_back_to_scikit_learn(
    served: ModuleType, model_dir: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    publish(model_dir, "iris", 1, MODELS["logistic"], onnx=b"this is not an ONNX model")

    assert _infer(served, "iris", FEATURES[:3], ["predict"])["predict"]["data"] == [0, 0, 0]
    assert _platform(served, "iris") == "sklearn"
    assert '"FastPathLoadFailed"' in capfd.readouterr().out


def test_a_deployment_with_the_fast_path_off_serves_scikit_learn(model_dir: Path) -> None:
    from lambdas.inference import handler as module

    publish(model_dir, "iris", 1, MODELS["logistic"], onnx=onnx_conversion(MODELS["logistic"]))
    module.configure(settings(model_dir, onnx_fast_path=False))
    try:
        assert _platform(module, "iris") == "sklearn"
    finally:
        module.configure(settings(model_dir))


def test_a_conversion_published_later_is_served_once_the_model_is_checked_again(
    served: ModuleType, model_dir: Path
) -> None:
    publish(model_dir, "iris", 1, MODELS["logistic"])
    assert _platform(served, "iris") == "sklearn"

    conversion = version_dir(model_dir, "iris", 1) / ONNX_FILE
    conversion.write_bytes(onnx_conversion(MODELS["logistic"]))

    assert _platform(served, "iris") == "onnxruntime_onnx"
    conversion.unlink()
    assert _platform(served, "iris") == "sklearn"


SERVE_ONE_REQUEST = """
import json, sys
from lambdas.inference.handler import lambda_handler
response = lambda_handler(json.loads(sys.argv[1]), None)
imported = {name: name in sys.modules for name in ("sklearn", "joblib", "pandas")}
print(json.dumps({"status": response["statusCode"], **imported}))
"""


def test_a_process_serving_onnx_models_never_imports_scikit_learn(model_dir: Path) -> None:
    publish(model_dir, "iris", 1, MODELS["logistic"], onnx=onnx_conversion(MODELS["logistic"]))
    environment = {**os.environ, "PYTHONPATH": str(REPO), "MODEL_DIR": str(model_dir), "ONNX_FAST_PATH": "true"}

    event = event_for("http", "POST", "/v2/models/iris/infer", v2_request([[5.1, 3.5, 1.4, 0.2]], [1, 4]))

    result = subprocess.run(
        [sys.executable, "-c", SERVE_ONE_REQUEST, json.dumps(event)],
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert result.returncode == 0, result.stderr
    assert (
        result.stdout.strip().splitlines()[-1] == '{"status": 200, "sklearn": false, "joblib": false, "pandas": false}'
    )


SERVE_WITHOUT_PANDAS = """
import json, sys

class NoPandas:  # any import of pandas fails, as if it were not installed; scikit-learn then runs without it
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] == "pandas":
            raise ImportError("pandas is not installed in this process")

sys.meta_path.insert(0, NoPandas())
from lambdas.inference.handler import lambda_handler
response = lambda_handler(json.loads(sys.argv[1]), None)
print(json.dumps({"status": response["statusCode"], "body": json.loads(response["body"])}))
"""


def test_positional_models_on_scikit_learn_are_served_without_pandas(model_dir: Path) -> None:
    """scikit-learn imports pandas itself whenever it is installed; the serving path for positional models never
    needs it, shown by serving them in a process where pandas cannot be imported."""
    publish(model_dir, "iris", 1, MODELS["logistic"])
    environment = {**os.environ, "PYTHONPATH": str(REPO), "MODEL_DIR": str(model_dir), "ONNX_FAST_PATH": "false"}
    for row, status in (([5.1, 3.5, 1.4, 0.2], 200), ([5.1, None, 1.4, 0.2], 400)):  # LR refuses a missing value
        event = event_for("http", "POST", "/v2/models/iris/infer", v2_request([row], [1, 4]))

        result = subprocess.run(
            [sys.executable, "-c", SERVE_WITHOUT_PANDAS, json.dumps(event)],
            env=environment,
            capture_output=True,
            text=True,
            timeout=60,
        )

        assert result.returncode == 0, result.stderr
        answer = json.loads(result.stdout.strip().splitlines()[-1])
        assert answer["status"] == status, answer
        if status == 200:
            assert answer["body"]["outputs"][0]["data"] == MODELS["logistic"].predict([row]).tolist()
        else:
            assert "NaN" in answer["body"]["error"]
