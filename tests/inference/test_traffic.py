"""Serving settings in the inference function: traffic weights, sticky route keys, pinned versions, the version named
on every answer, shadow answers that are never returned, captured records, and settings that change under load."""

from __future__ import annotations

import base64
import json
import shutil
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

from lambdas.common.repository import version_dir
from lambdas.common.settings import Settings
from lambdas.inference.capture import MAX_RECORD_BYTES
from tests.support.context import inference_context
from tests.support.inference import (
    SETOSA,
    VIRGINICA,
    TrainedModels,
    event_for,
    publish,
    response_header,
    response_json,
    settings,
    v2_request,
)
from tests.support.serving import captured_lines, metric_lines, publish_settings

ROWS = [SETOSA, VIRGINICA, [5.9, 3.0, 4.2, 1.5]]


@pytest.fixture
def served(model_dir: Path, trained: TrainedModels) -> Iterator[ModuleType]:
    """iris v1 (logistic), v2 (forest) and v3 (the logistic again), settings checked on every request."""
    from lambdas.inference import handler

    publish(model_dir, "iris", 1, trained.logistic)
    publish(model_dir, "iris", 2, trained.forest)
    publish(model_dir, "iris", 3, trained.logistic)
    handler.configure(settings(model_dir, refresh_seconds=0.0))
    yield handler
    handler.configure(Settings.from_env())


def infer(handler: ModuleType, path: str = "/v2/models/iris/infer", body: Any = None, **headers: str) -> Any:
    event = event_for("http", "POST", path, body if body is not None else v2_request(ROWS, [len(ROWS), 4]))
    event["headers"].update({name.replace("_", "-"): value for name, value in headers.items()})
    return handler.lambda_handler(event, inference_context())


def version_of(response: dict[str, Any]) -> str:
    assert response["statusCode"] == 200, response["body"]
    header = response_header(response, "X-Model-Version")
    assert header is not None
    return header


def test_without_settings_the_latest_version_serves_and_names_itself(served: ModuleType) -> None:
    response = infer(served)
    assert version_of(response) == "3" == response_json(response)["model_version"]


def test_unversioned_requests_follow_the_weights(served: ModuleType, model_dir: Path) -> None:
    publish_settings(model_dir, "iris", {"traffic": {"1": 75, "2": 25, "3": 0}})

    seen = Counter(version_of(infer(served)) for _ in range(800))

    assert set(seen) == {"1", "2"}  # a weight of 0 takes nothing
    # 800 draws at 25 %: the standard deviation is 1.5 points; 6 of them is far beyond any run's luck.
    assert abs(seen["2"] / 800 - 0.25) < 0.09, seen


def test_a_route_key_always_meets_the_same_version(served: ModuleType, model_dir: Path) -> None:
    publish_settings(model_dir, "iris", {"traffic": {"1": 50, "2": 50}})

    for key in ("alice", "bob", "carol", "dave"):
        assert len({version_of(infer(served, x_route_key=key)) for _ in range(15)}) == 1, key
    spread = Counter(version_of(infer(served, x_route_key=f"customer-{n}")) for n in range(400))
    assert set(spread) == {"1", "2"}


def test_a_request_naming_a_version_is_never_rerouted(served: ModuleType, model_dir: Path) -> None:
    publish_settings(model_dir, "iris", {"traffic": {"1": 100}, "shadow": {"version": "2", "percent": 100}})

    for _ in range(20):
        response = infer(served, "/v2/models/iris/versions/3/infer")
        assert version_of(response) == "3" == response_json(response)["model_version"]


def test_every_request_form_names_the_version_that_answered(served: ModuleType, model_dir: Path) -> None:
    publish_settings(model_dir, "iris", {"traffic": {"2": 100}})
    forms = [
        ("/v2/models/iris/infer", v2_request(ROWS, [3, 4])),
        ("/v1/models/iris:predict", {"instances": ROWS}),
        ("/inference", {"name": "iris", "inputs": ROWS}),
        ("/v2/models/iris/invocations", {"inputs": ROWS}),
    ]
    for path, body in forms:
        response = infer(served, path, body)
        assert version_of(response) == "2", path


def test_the_resolver_path_names_the_version_too(served: ModuleType, model_dir: Path) -> None:
    from lambdas.inference.exchange import VERSION_HEADER

    publish_settings(model_dir, "iris", {"traffic": {"2": 100}})
    event = event_for("http", "POST", "/v2/models/iris/infer", v2_request(ROWS, [3, 4]))
    response = served._http_api.resolve(event, inference_context())

    assert response["statusCode"] == 200
    assert response_header(response, VERSION_HEADER) == "2"


def test_a_deleted_version_passes_its_share_to_the_others(served: ModuleType, model_dir: Path) -> None:
    publish_settings(model_dir, "iris", {"traffic": {"1": 50, "2": 50}})
    shutil.rmtree(version_dir(model_dir, "iris", 2))

    assert {version_of(infer(served)) for _ in range(60)} == {"1"}
    shutil.rmtree(version_dir(model_dir, "iris", 1))
    assert {version_of(infer(served)) for _ in range(10)} == {"3"}  # no weighted version left: latest serves


def test_the_shadow_answers_but_is_never_returned(
    served: ModuleType, model_dir: Path, trained: TrainedModels, capsys: pytest.CaptureFixture[str]
) -> None:
    publish_settings(model_dir, "iris", {"traffic": {"1": 100}, "shadow": {"version": "2", "percent": 100}})
    capsys.readouterr()

    response = infer(served)

    assert version_of(response) == "1"
    answer = response_json(response)
    assert answer["outputs"][0]["data"] == trained.logistic.predict(np.array(ROWS)).tolist()
    records = captured_lines(capsys.readouterr().out)
    assert [(r.version, r.shadow) for r in records] == [("2", True)]  # every shadow answer is captured
    shadow_answer = records[0].endpoint_output.json()
    assert shadow_answer["model_version"] == "2"
    assert shadow_answer["outputs"][0]["data"] == trained.forest.predict(np.array(ROWS)).tolist()
    assert records[0].endpoint_input.json() == v2_request(ROWS, [3, 4])


def test_shadow_agreement_is_counted_per_model_and_version(
    served: ModuleType, model_dir: Path, trained: TrainedModels, capsys: pytest.CaptureFixture[str]
) -> None:
    publish_settings(model_dir, "iris", {"traffic": {"1": 100}, "shadow": {"version": "3", "percent": 100}})
    capsys.readouterr()
    infer(served)  # v3 is the same logistic regression: it agrees
    publish_settings(model_dir, "iris", {"traffic": {"1": 100}, "shadow": {"version": "2", "percent": 100}})
    differs = [
        row for row in trained.features if trained.logistic.predict([row])[0] != trained.forest.predict([row])[0]
    ]
    assert differs, "the forest and the logistic regression must disagree somewhere for this test"
    infer(served, body=v2_request([list(differs[0])], [1, 4]))

    verdicts = [
        (line["version"], name)
        for line in metric_lines(capsys.readouterr().out)
        for name in ("ShadowAgreement", "ShadowDisagreement", "ShadowFailed")
        if name in line
    ]
    assert verdicts == [("3", "ShadowAgreement"), ("2", "ShadowDisagreement")]


def test_a_failing_shadow_never_fails_the_served_answer(
    served: ModuleType, model_dir: Path, trained: TrainedModels, capsys: pytest.CaptureFixture[str]
) -> None:
    # Version 4 takes three features: the four-feature request the served version answers is one it refuses.
    publish(
        model_dir,
        "iris",
        4,
        LogisticRegression(max_iter=300).fit(trained.features[:, :3], trained.forest.predict(trained.features)),
    )
    publish_settings(model_dir, "iris", {"traffic": {"1": 100}, "shadow": {"version": "4", "percent": 100}})
    capsys.readouterr()

    response = infer(served)

    assert version_of(response) == "1"
    assert response_json(response)["outputs"][0]["data"] == trained.logistic.predict(np.array(ROWS)).tolist()
    lines = metric_lines(capsys.readouterr().out)
    assert any(line.get("ShadowFailed") == 1 and line["version"] == "4" for line in lines)


def test_capture_samples_its_share_and_records_sagemakers_format(
    served: ModuleType, model_dir: Path, trained: TrainedModels, capsys: pytest.CaptureFixture[str]
) -> None:
    publish_settings(model_dir, "iris", {"traffic": {"2": 100}, "capture": {"percent": 20}})
    capsys.readouterr()

    for _ in range(500):
        infer(served)
    sampled = captured_lines(capsys.readouterr().out)
    # 500 draws at 20 %: the standard deviation is 1.8 points.
    assert abs(len(sampled) / 500 - 0.20) < 0.09, len(sampled)

    publish_settings(model_dir, "iris", {"traffic": {"2": 100}, "capture": {"percent": 100}})
    response = infer(served, x_inference_id="order-17")
    (record,) = captured_lines(capsys.readouterr().out)
    assert (record.model, record.version, record.shadow, record.inference_id) == ("iris", "2", False, "order-17")
    assert record.endpoint_input.content_type == "application/json"
    assert record.endpoint_input.encoding == "JSON"
    assert record.endpoint_input.json() == v2_request(ROWS, [3, 4])
    assert record.endpoint_output.json() == response_json(response)
    assert record.endpoint_output.json()["outputs"][0]["data"] == trained.forest.predict(np.array(ROWS)).tolist()


def test_a_binary_request_is_captured_base64_encoded(
    served: ModuleType, model_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    publish_settings(model_dir, "iris", {"capture": {"percent": 100}})
    header = json.dumps(
        {"inputs": [{"name": "input-0", "shape": [1, 4], "datatype": "FP64", "parameters": {"binary_data_size": 32}}]}
    )
    raw = header.encode() + np.asarray(SETOSA, dtype="<f8").tobytes()
    event = event_for("http", "POST", "/v2/models/iris/infer", content_type="application/octet-stream")
    event["body"], event["isBase64Encoded"] = base64.b64encode(raw).decode(), True
    event["headers"]["inference-header-content-length"] = str(len(header))
    capsys.readouterr()

    response = served.lambda_handler(event, inference_context())

    assert response["statusCode"] == 200
    (record,) = captured_lines(capsys.readouterr().out)
    assert record.endpoint_input.encoding == "BASE64"
    assert base64.b64decode(record.endpoint_input.data) == raw


def test_capture_at_zero_writes_no_record(
    served: ModuleType, model_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    publish_settings(model_dir, "iris", {"traffic": {"1": 100}, "capture": {"percent": 0}})
    capsys.readouterr()
    for _ in range(50):
        infer(served)
    assert captured_lines(capsys.readouterr().out) == []


def test_a_record_too_large_for_a_log_event_is_cut_and_says_so(
    served: ModuleType, model_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    publish_settings(model_dir, "iris", {"capture": {"percent": 100}})
    rows = [SETOSA] * 20_000  # a body of some 600 kB
    capsys.readouterr()

    response = infer(served, body=v2_request(rows, [len(rows), 4]))

    assert response["statusCode"] == 200
    line = next(line for line in capsys.readouterr().out.splitlines() if line.startswith('{"captureData"'))
    assert len(line.encode()) <= MAX_RECORD_BYTES
    (record,) = captured_lines(line)
    assert record.truncated


def test_settings_changed_under_load_answer_every_request(served: ModuleType, model_dir: Path) -> None:
    weights = [{"1": 100}, {"1": 50, "2": 50}, {"2": 100}, {"3": 90, "1": 10}]
    for n in range(200):
        if n % 10 == 0:
            publish_settings(model_dir, "iris", {"traffic": weights[(n // 10) % len(weights)]})
        assert infer(served)["statusCode"] == 200


def test_the_serving_route_shows_the_published_settings(served: ModuleType, model_dir: Path) -> None:
    publish_settings(model_dir, "iris", {"traffic": {"1": 90, "2": 10}}, history=(1,))
    event = event_for("http", "GET", "/v2/models/iris/serving", None)

    answer = response_json(served.lambda_handler(event, inference_context()))

    assert answer["settings"] == {"traffic": {"1": 90, "2": 10}}
    assert answer["rollback_version"] == "1"
    assert answer["versions"] == ["1", "2", "3"]
