"""Every route of the inference API answers in every event format: HTTP API 2.0 (default and named stage),
REST API 1.0 and function URL (base64 body)."""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType
from typing import Any

import pytest

from tests.inference.conftest import FakeContext, Invoke
from tests.inference.support import FORMATS, event_for, response_header, response_json, v2_request

SETOSA = [5.1, 3.5, 1.4, 0.2]
VIRGINICA = [6.7, 3.0, 5.2, 2.3]


def _v2_predicts_setosa(body: Any) -> None:
    assert body["model_name"] == "iris"
    assert body["outputs"] == [{"name": "predict", "shape": [1], "datatype": "INT64", "data": [0]}]


Check = Callable[[Any], None]
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


@pytest.mark.parametrize("event_format", FORMATS)
@pytest.mark.parametrize(("method", "path", "body", "check"), ROUTES, ids=[f"{m} {p}" for m, p, _, _ in ROUTES])
def test_every_route_answers_in_every_event_format(
    invoke: Invoke, event_format: str, method: str, path: str, body: Any, check: Check
) -> None:
    response = invoke(event_for(event_format, method, path, body))

    assert response["statusCode"] == 200, response["body"]
    assert response_header(response, "content-type") == "application/json"
    assert check(response_json(response)) is not False


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/v2/models/iris/infer", v2_request(VIRGINICA, [1, 4], outputs=[{"name": "predict_proba"}])),
        ("/v2/models/iris/versions/1/infer", v2_request(SETOSA, [1, 4], id="x")),
        ("/v2/models/iris/versions/7/infer", v2_request(SETOSA, [1, 4])),
        ("/v2/models/iris/infer", v2_request(SETOSA, [1, 3])),
        ("/v1/models/iris:predict", {"instances": [SETOSA]}),
        ("/v1/models/nope:predict", {"instances": [SETOSA]}),
        ("/inference", {"name": "iris", "inputs": [SETOSA], "version": 1}),
        ("/inference", {"inputs": [SETOSA]}),
    ],
)
@pytest.mark.parametrize("event_format", ["http", "rest"])
def test_prediction_routes_answer_the_same_through_the_resolver(
    handler: ModuleType, event_format: str, path: str, body: Any
) -> None:
    """The handler answers predictions before the Powertools resolver; both must give the same answer."""
    event = event_for(event_format, "POST", path, body)
    resolver = handler._rest_api if event_format == "rest" else handler._http_api

    direct = handler.lambda_handler(event, FakeContext())
    resolved = resolver.resolve(event, FakeContext())

    assert direct["statusCode"] == resolved["statusCode"]
    assert response_json(direct) == response_json(resolved)


def test_latest_is_the_highest_published_version(invoke: Invoke) -> None:
    response = invoke(event_for("http", "POST", "/v2/models/iris/infer", v2_request(SETOSA, [1, 4])))
    assert response_json(response)["model_version"] == "2"
