"""Every route of the inference API answers in every event format: HTTP API 2.0 (default and named stage),
REST API 1.0 and function URL (base64 body)."""

from __future__ import annotations

from types import ModuleType
from typing import Any

import pytest

from tests.support.context import inference_context
from tests.support.inference import (
    FORMATS,
    SETOSA,
    VIRGINICA,
    Invoke,
    event_for,
    response_header,
    response_json,
    v2_request,
)
from tests.support.routes import ROUTES, Check


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

    direct = handler.lambda_handler(event, inference_context())
    resolved = resolver.resolve(event, inference_context())

    assert direct["statusCode"] == resolved["statusCode"]
    assert response_json(direct) == response_json(resolved)


def test_latest_is_the_highest_published_version(invoke: Invoke) -> None:
    response = invoke(event_for("http", "POST", "/v2/models/iris/infer", v2_request(SETOSA, [1, 4])))
    assert response_json(response)["model_version"] == "2"
