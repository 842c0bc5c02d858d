"""openapi.yaml describes the API as served: the same paths and methods, and every answer fits its schema."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from lambdas.inference import routes
from tests.support.estimators import ExplodingEstimator
from tests.support.inference import SETOSA, Invoke, event_for, publish, response_json, v2_request
from tests.support.paths import REPO
from tests.support.routes import ROUTES

SPEC = yaml.safe_load((REPO / "openapi.yaml").read_text(encoding="utf-8"))


def _resolve(node: Any) -> Any:
    """The document with every local $ref replaced by what it points to."""
    if isinstance(node, dict):
        if "$ref" in node:
            target: Any = SPEC
            for part in node["$ref"].removeprefix("#/").split("/"):
                target = target[part]
            return _resolve(target)
        return {key: _resolve(value) for key, value in node.items()}
    if isinstance(node, list):
        return [_resolve(item) for item in node]
    return node


PATHS = _resolve(SPEC["paths"])


def _operation(method: str, path: str) -> dict[str, Any]:
    for template, item in PATHS.items():
        pattern = re.sub(r"\\\{\w+\\\}", "[^/]+", re.escape(template))
        if re.fullmatch(pattern, path) and method.lower() in item:
            operation: dict[str, Any] = item[method.lower()]
            return operation
    raise AssertionError(f"{method} {path} is not in openapi.yaml")


def test_the_spec_is_a_valid_openapi_document() -> None:
    from openapi_spec_validator import validate

    validate(SPEC)


def test_the_spec_lists_exactly_the_served_paths_and_methods() -> None:
    served = {(re.sub(r"<(\w+)>", r"{\1}", route.path), route.method.lower()) for route in routes.ROUTES}
    documented = {(path, method) for path, item in SPEC["paths"].items() for method in item if method != "parameters"}
    assert documented == served


EXCHANGES: list[tuple[str, str, Any]] = [(method, path, body) for method, path, body, _ in ROUTES] + [
    ("POST", "/v2/models/iris/infer", v2_request(SETOSA, [1, 4], outputs=[{"name": "predict_proba"}], id="7")),
    ("POST", "/v2/models/iris/infer", v2_request(SETOSA, [1, 3])),
    ("POST", "/v2/models/iris/infer", "not an object"),
    ("POST", "/v2/models/nope/infer", v2_request(SETOSA, [1, 4])),
    ("POST", "/v2/models/broken/versions/1/infer", v2_request(SETOSA, [1, 4])),
    ("POST", "/v2/models/exploding/infer", v2_request(SETOSA, [1, 4])),
    ("GET", "/v2/models/iris/versions/9", None),
    ("GET", "/v2/models/broken/ready", None),
    ("POST", "/v2/repository/index", {"ready": "yes"}),
    ("POST", "/v2/repository/index", None),
    ("POST", "/v1/models/iris:predict", {"instances": "x"}),
    ("GET", "/v1/models/broken", None),
    ("POST", "/inference", {"name": "iris", "inputs": [SETOSA], "version": 5}),
]


@pytest.mark.parametrize(("method", "path", "body"), EXCHANGES, ids=[f"{m} {p}" for m, p, _ in EXCHANGES])
def test_every_answer_is_documented_and_fits_its_schema(
    invoke: Invoke, model_dir: Path, method: str, path: str, body: Any
) -> None:
    publish(model_dir, "broken", 1, b"not a model")
    publish(model_dir, "exploding", 1, ExplodingEstimator())
    response = invoke(event_for("http", method, path, body))

    documented = _operation(method, path)["responses"]
    assert str(response["statusCode"]) in documented, response["body"]
    schema = documented[str(response["statusCode"])]["content"]["application/json"]["schema"]
    jsonschema.validate(response_json(response), schema)
