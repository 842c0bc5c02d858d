"""Every error status of the API, each with a JSON body {"error": "..."} and never a traceback."""

from __future__ import annotations

import base64
import json
import tracemalloc
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from lambdas.inference.observability import logger
from tests.support.context import INFERENCE_REQUEST_ID, inference_context
from tests.support.estimators import ExplodingEstimator
from tests.support.inference import (
    FORMATS,
    SETOSA,
    Invoke,
    event_for,
    publish,
    response_header,
    response_json,
    settings,
    v2_request,
)

INFER = "/v2/models/iris/infer"


def _error(response: dict[str, Any], status: int) -> str:
    assert response["statusCode"] == status, response["body"]
    body = response_json(response)
    assert set(body) == {"error"} and isinstance(body["error"], str) and body["error"]
    assert "Traceback" not in response["body"]
    return str(body["error"])


BAD_V2_BODIES: list[tuple[str, Any]] = [
    ("no inputs", {}),
    ("inputs not a list", {"inputs": {"name": "x"}}),
    ("two inputs", {"inputs": [v2_request(SETOSA, [1, 4])["inputs"][0]] * 2}),
    ("input not an object", {"inputs": [[1, 2, 3, 4]]}),
    ("missing name", {"inputs": [{"shape": [1, 4], "datatype": "FP64", "data": SETOSA}]}),
    ("shape not a list", v2_request(SETOSA, "1x4")),  # type: ignore[arg-type]
    ("shape with zero", v2_request([], [0, 4])),
    ("negative shape", v2_request(SETOSA, [-1, 4])),
    ("shape of three dims", v2_request(SETOSA, [1, 1, 4])),
    ("boolean in shape", v2_request(SETOSA, [True, 4])),
    ("shape larger than data", v2_request(SETOSA, [2, 4])),
    ("shape smaller than data", v2_request(SETOSA + SETOSA, [1, 4])),
    ("nested data not matching shape", v2_request([[5.1, 3.5], [1.4, 0.2]], [1, 4])),
    ("ragged nested data", v2_request([[5.1, 3.5, 1.4], [0.2]], [2, 2])),
    ("wrong feature count", v2_request([5.1, 3.5, 1.4], [1, 3])),
    ("one-dimensional numeric", v2_request(SETOSA, [4])),
    ("unknown datatype", v2_request(SETOSA, [1, 4], "FLOAT")),
    ("strings as FP64", v2_request(["5.1", "3.5", "1.4", "0.2"], [1, 4])),
    ("floats as INT32", v2_request(SETOSA, [1, 4], "INT32")),
    ("INT8 out of range", v2_request([1, 2, 3, 300], [1, 4], "INT8")),
    ("numbers as BOOL", v2_request([1, 0, 1, 0], [1, 4], "BOOL")),
    ("numbers as BYTES", v2_request(SETOSA, [1, 4], "BYTES")),
    ("FP32 overflow", v2_request([1e300, 1.0, 1.0, 1.0], [1, 4], "FP32")),
    ("objects in data", v2_request([{}, 1.0, 1.0, 1.0], [1, 4])),
    ("integer beyond 64 bits", v2_request([2**70, 1, 1, 1], [1, 4], "INT64")),
    ("unknown output", v2_request(SETOSA, [1, 4], outputs=[{"name": "transform"}])),
    ("outputs not a list", v2_request(SETOSA, [1, 4], outputs="predict")),
    ("id not a string", v2_request(SETOSA, [1, 4], id=7)),
    ("parameters not an object", v2_request(SETOSA, [1, 4], parameters=[1])),
    ("content_type not a string", v2_request(SETOSA, [1, 4], parameters={"content_type": {}})),
    (
        "input content_type not a string",
        {"inputs": [{**v2_request(SETOSA, [1, 4])["inputs"][0], "parameters": {"content_type": 1}}]},
    ),
    ("top level is a list", [v2_request(SETOSA, [1, 4])]),
]


@pytest.mark.parametrize("body", [body for _, body in BAD_V2_BODIES], ids=[name for name, _ in BAD_V2_BODIES])
def test_malformed_v2_requests_are_400(invoke: Invoke, body: Any) -> None:
    _error(invoke(event_for("http", "POST", INFER, body)), 400)


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/v1/models/iris:predict", {}),
        ("/v1/models/iris:predict", {"instances": []}),
        ("/v1/models/iris:predict", {"instances": [[1, 2, 3]]}),
        ("/v1/models/iris:predict", {"instances": [["a", "b", "c", "d"]]}),
        ("/v1/models/iris:predict", {"instances": [[1, 2, 3, 4], [1, 2]]}),
        ("/v1/models/iris:predict", {"instances": [[1e400, 1, 1, 1]]}),
        ("/inference", {"inputs": [SETOSA]}),
        ("/inference", {"name": 5, "inputs": [SETOSA]}),
        ("/inference", {"name": "iris", "inputs": SETOSA}),
        ("/inference", {"name": "iris", "inputs": [SETOSA], "version": 1.5}),
        ("/inference", {"name": "iris", "inputs": [[True, False, True, False]]}),
    ],
)
def test_malformed_v1_and_original_requests_are_400(invoke: Invoke, path: str, body: Any) -> None:
    _error(invoke(event_for("rest", "POST", path, body)), 400)


def test_predict_proba_on_a_model_without_it_is_400(invoke: Invoke, model_dir: Path, trained: Any) -> None:
    publish(model_dir, "sizes", 1, trained.regressor)
    request = v2_request([1.0, 2.0, 3.0], [1, 3], outputs=[{"name": "predict_proba"}])
    assert "predict_proba" in _error(invoke(event_for("http", "POST", "/v2/models/sizes/infer", request)), 400)


@pytest.mark.parametrize("token", ["Infinity", "-Infinity"])
def test_infinity_is_400(invoke: Invoke, token: str) -> None:
    raw = json.dumps(v2_request([0.0, 1, 1, 1], [1, 4])).replace("0.0", token)
    assert token in _error(invoke(event_for("http", "POST", INFER, raw_body=raw)), 400)


def test_deeply_nested_json_is_400(invoke: Invoke) -> None:
    raw = '{"inputs": ' + "[" * 100_000 + "]" * 100_000 + "}"
    assert "nested" in _error(invoke(event_for("http", "POST", INFER, raw_body=raw)), 400)


def test_moderately_nested_data_is_400_not_a_crash(invoke: Invoke) -> None:
    data: Any = 1.0
    for _ in range(500):
        data = [data]
    _error(invoke(event_for("http", "POST", INFER, v2_request(data, [1, 1]))), 400)


@pytest.mark.parametrize("shape", [[100_000, 100_000], [2**40, 4], [1, 2**62]])
def test_huge_shapes_are_refused_before_any_allocation(invoke: Invoke, shape: list[int]) -> None:
    event = event_for("http", "POST", INFER, v2_request(SETOSA, shape))
    tracemalloc.start()
    try:
        response = invoke(event)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    _error(response, 400)
    assert peak < 4 * 1024 * 1024


@pytest.mark.parametrize(
    "path",
    [
        "/v2/models/unknown/infer",
        "/v2/models/iris/versions/9/infer",
        "/v2/models/iris/versions/0/infer",
        "/v2/models/iris/versions/latest/infer",
        "/v2/models/iris/versions/01/infer",
        "/v2/models/../infer",
        "/v2/models/%2E%2E/infer",
        "/v2/models/..%2F..%2Fetc/infer",
        "/v2/models/\u00e9t\u00e9/infer",
        "/v2/models/%C3%A9t%C3%A9/infer",
        "/v2/models/.hidden/infer",
        "/v2/models/" + "a" * 65 + "/infer",
    ],
)
def test_unknown_or_invalid_model_names_and_versions_are_404(invoke: Invoke, path: str) -> None:
    _error(invoke(event_for("http", "POST", path, v2_request(SETOSA, [1, 4]))), 404)


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/v2/models/unknown"),
        ("GET", "/v2/models/unknown/ready"),
        ("GET", "/v2/models/iris/versions/3/ready"),
        ("GET", "/v1/models/unknown"),
        ("POST", "/v1/models/unknown:predict"),
        ("GET", "/v3/models"),
        ("GET", "/"),
    ],
)
def test_unknown_models_and_routes_are_404(invoke: Invoke, method: str, path: str) -> None:
    body = {"instances": [SETOSA]} if method == "POST" else None
    _error(invoke(event_for("function_url", method, path, body)), 404)


def test_unknown_model_in_the_original_format_is_404(invoke: Invoke) -> None:
    _error(invoke(event_for("http", "POST", "/inference", {"name": "nope", "inputs": [SETOSA]})), 404)


@pytest.mark.parametrize("event_format", FORMATS)
@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("GET", "/v2/models/iris/infer", "POST"),
        ("PUT", "/v2/models/iris/versions/1/infer", "POST"),
        ("POST", "/v2/models/iris", "GET"),
        ("DELETE", "/v2/models/iris/ready", "GET"),
        ("POST", "/v2/health/live", "GET"),
        ("GET", "/v2/repository/index", "POST"),
        ("GET", "/v1/models/iris:predict", "POST"),
        ("POST", "/v1/models", "GET"),
        ("GET", "/inference", "POST"),
    ],
)
def test_a_known_path_with_the_wrong_method_is_405(
    invoke: Invoke, event_format: str, method: str, path: str, allowed: str
) -> None:
    response = invoke(event_for(event_format, method, path, None))
    _error(response, 405)
    assert response_header(response, "allow") == allowed


@pytest.mark.parametrize("event_format", FORMATS)
def test_a_body_over_the_limit_is_413(handler: ModuleType, model_dir: Path, event_format: str) -> None:
    handler.configure(settings(model_dir, max_request_bytes=1000))
    body = v2_request([1.0] * 400, [100, 4])
    assert len(json.dumps(body)) > 1000
    response = handler.lambda_handler(event_for(event_format, "POST", INFER, body), inference_context())
    _error(response, 413)


def test_a_huge_base64_body_is_413_without_decoding(handler: ModuleType, model_dir: Path) -> None:
    handler.configure(settings(model_dir, max_request_bytes=1000))
    event = event_for("function_url", "POST", INFER, raw_body="x")
    event["body"] = "!" * 10_000_000  # not even valid base64: the length alone decides
    _error(handler.lambda_handler(event, inference_context()), 413)


def test_a_body_just_under_the_limit_is_served(handler: ModuleType, model_dir: Path) -> None:
    body = json.dumps(v2_request(SETOSA, [1, 4]))
    handler.configure(settings(model_dir, max_request_bytes=len(body)))
    response = handler.lambda_handler(event_for("function_url", "POST", INFER, raw_body=body), inference_context())
    assert response["statusCode"] == 200


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data"])
def test_a_non_json_content_type_is_415(invoke: Invoke, content_type: str) -> None:
    event = event_for("rest", "POST", INFER, v2_request(SETOSA, [1, 4]), content_type=content_type)
    _error(invoke(event), 415)


@pytest.mark.parametrize("content_type", ["application/json; charset=utf-8", "application/vnd.api+json", None])
def test_json_content_types_and_none_are_accepted(invoke: Invoke, content_type: str | None) -> None:
    event = event_for("http", "POST", INFER, v2_request(SETOSA, [1, 4]), content_type=content_type)
    assert invoke(event)["statusCode"] == 200


@pytest.mark.parametrize("raw", ["not json", "{'single': 'quotes'}", '{"inputs": [', "\udcff"])
def test_a_body_that_is_not_json_is_415(invoke: Invoke, raw: str) -> None:
    _error(invoke(event_for("http", "POST", INFER, raw_body=raw, base64_body=False)), 415)


def test_invalid_utf8_in_a_base64_body_is_415(invoke: Invoke) -> None:
    event = event_for("function_url", "POST", INFER, raw_body="x")
    event["body"] = base64.b64encode(b'{"inputs": "\xff\xfe"}').decode()
    _error(invoke(event), 415)


def test_invalid_base64_is_400(invoke: Invoke) -> None:
    event = event_for("function_url", "POST", INFER, raw_body="x")
    event["body"] = "not*base64"
    _error(invoke(event), 400)


def test_an_empty_body_is_400(invoke: Invoke) -> None:
    _error(invoke(event_for("http", "POST", INFER, raw_body="")), 400)


def test_a_model_that_cannot_be_loaded_is_503(invoke: Invoke, model_dir: Path) -> None:
    publish(model_dir, "broken", 1, b"this is not a pickle")
    for path in ("/v2/models/broken/infer", "/v2/models/broken/versions/1/infer"):
        assert "cannot be loaded" in _error(invoke(event_for("http", "POST", path, v2_request(SETOSA, [1, 4]))), 503)
    _error(invoke(event_for("http", "GET", "/v2/models/broken/ready", None)), 503)
    _error(invoke(event_for("http", "GET", "/v1/models/broken", None)), 503)


def test_a_model_directory_that_is_missing_makes_the_server_unready(handler: ModuleType, tmp_path: Path) -> None:
    handler.configure(settings(tmp_path / "not-mounted"))
    response = handler.lambda_handler(event_for("http", "GET", "/v2/health/ready", None), inference_context())
    _error(response, 503)
    assert (
        handler.lambda_handler(event_for("http", "GET", "/v2/health/live", None), inference_context())["statusCode"]
        == 200
    )


@pytest.mark.parametrize("event_format", ["http", "rest"])
def test_a_real_fault_is_500_with_the_request_id_and_no_detail(
    invoke: Invoke, model_dir: Path, event_format: str, caplog: pytest.LogCaptureFixture
) -> None:
    publish(model_dir, "exploding", 1, ExplodingEstimator())
    response = invoke(event_for(event_format, "POST", "/v2/models/exploding/infer", v2_request(SETOSA, [1, 4])))

    message = _error(response, 500)
    assert INFERENCE_REQUEST_ID in message
    assert "secret" not in response["body"]
    [record] = [record for record in caplog.records if record.levelname == "ERROR"]
    logged = logger.registered_formatter.format(record)
    assert "secret internal detail" in logged and INFERENCE_REQUEST_ID in logged


@pytest.mark.parametrize(
    "event",
    [
        {},
        {"Records": [{"eventSource": "aws:s3"}]},
        {"version": "2.0", "requestContext": {}},
        {"version": "2.0", "requestContext": {"http": {"method": "GET"}}},
        {"httpMethod": "GET", "requestContext": {}},
        {"version": "2.0", "rawPath": "/v2", "requestContext": {"http": {"method": "GET"}}},
        ["not", "a", "dict"],
    ],
)
def test_an_unknown_event_shape_gets_a_clear_error(invoke: Invoke, event: Any) -> None:
    assert "unsupported event" in _error(invoke(event), 400)


@pytest.mark.parametrize("headers", [["content-type", "text/plain"], "content-type: application/json", 7])
def test_an_event_with_malformed_headers_is_an_unsupported_event(invoke: Invoke, headers: Any) -> None:
    for method, path in [("POST", INFER), ("GET", "/v2/models/iris"), ("GET", "/v2/health/live")]:
        event = event_for("http", method, path, v2_request(SETOSA, [1, 4]) if method == "POST" else None)
        event["headers"] = headers
        assert "unsupported event" in _error(invoke(event), 400)


def test_a_fault_outside_the_routes_is_a_json_500(
    handler: ModuleType, invoke: Invoke, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken_resolve(event: Any, context: Any) -> Any:
        raise KeyError("requestContext")

    monkeypatch.setattr(handler._http_api, "resolve", broken_resolve)
    message = _error(invoke(event_for("http", "GET", "/v2/health/live", None)), 500)
    assert INFERENCE_REQUEST_ID in message


@pytest.mark.parametrize("disabled", [True, False], ids=["metrics-disabled", "metrics-on"])
def test_each_invocation_writes_its_own_counts_and_keeps_none_for_the_next(
    invoke: Invoke, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], disabled: bool
) -> None:
    from lambdas.inference.observability import metrics

    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "true" if disabled else "false")
    capsys.readouterr()
    for _ in range(3):
        response = invoke(event_for("http", "POST", INFER, {"inputs": "not a list"}))
        assert response["statusCode"] == 400
        assert not metrics.metric_set  # nothing carried into the next invocation, written or not
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"_aws"' in line]
    assert [line.get("RequestRejected") for line in lines] == ([] if disabled else [[1.0]] * 3)
