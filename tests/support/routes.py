"""Every route of the inference API with a request and a check of its answer, against the iris repository."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.support.inference import SETOSA, VIRGINICA, v2_request


def _v2_predicts_setosa(body: Any) -> None:
    assert body["model_name"] == "iris"
    assert body["outputs"] == [{"name": "predict", "shape": [1], "datatype": "INT64", "data": [0]}]


Check = Callable[[Any], object]  # fails the test itself, or returns False
ROUTES: list[tuple[str, str, Any, Check]] = [
    ("POST", "/v2/models/iris/infer", v2_request(SETOSA, [1, 4]), _v2_predicts_setosa),
    (
        "POST",
        "/v2/models/iris/versions/1/infer",
        v2_request([SETOSA, VIRGINICA], [2, 4]),
        lambda body: (body["model_version"] == "1" and body["outputs"][0]["data"] == [0, 2]) or pytest.fail(body),
    ),
    ("GET", "/v2/models/iris", None, lambda body: body["versions"] == ["1", "2"] or pytest.fail(body)),
    ("GET", "/v2/models/iris/versions/1", None, lambda body: body["inputs"][0]["shape"] == [-1, 4] or pytest.fail()),
    ("GET", "/v2/models/iris/ready", None, lambda body: body == {"name": "iris", "ready": True} or pytest.fail()),
    ("GET", "/v2/models/iris/versions/2/ready", None, lambda body: body["ready"] is True or pytest.fail()),
    ("GET", "/v2/health/live", None, lambda body: body == {"live": True} or pytest.fail()),
    ("GET", "/v2/health/ready", None, lambda body: body == {"ready": True} or pytest.fail()),
    ("GET", "/v2", None, lambda body: body["extensions"] == ["model_repository"] or pytest.fail()),
    (
        "POST",
        "/v2/repository/index",
        {},
        lambda body: [(e["name"], e["version"]) for e in body] == [("iris", "1"), ("iris", "2")] or pytest.fail(),
    ),
    ("POST", "/v1/models/iris:predict", {"instances": [SETOSA, VIRGINICA]}, lambda b: b == {"predictions": [0, 2]}),
    ("GET", "/v1/models", None, lambda body: body == {"models": ["iris"]} or pytest.fail()),
    ("GET", "/v1/models/iris", None, lambda body: body == {"name": "iris", "ready": True} or pytest.fail()),
    ("POST", "/inference", {"name": "iris", "inputs": [SETOSA]}, lambda b: b == {"predicted_label": [0]}),
    ("POST", "/v2/models/iris/invocations", {"inputs": [SETOSA]}, lambda b: b == {"predictions": [0]}),
    (
        "POST",
        "/v2/models/iris/versions/1/invocations",
        {"dataframe_split": {"data": [SETOSA, VIRGINICA]}},
        lambda b: b == {"predictions": [0, 2]},
    ),
]
