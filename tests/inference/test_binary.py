"""The binary tensor extension through the inference handler: requests whose tensors follow the JSON header as raw
bytes, answers that carry outputs the same way, and a 400 naming the problem for every size that does not add up."""

from __future__ import annotations

import base64
import json
import struct
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.support.inference import SETOSA, Invoke, TrainedModels, event_for, publish, response_json

ROWS = np.array([SETOSA, [6.7, 3.0, 5.2, 2.3]])


def binary_event(header: dict[str, Any], payload: bytes, *, declared: str | None = None) -> dict[str, Any]:
    text = json.dumps(header).encode()
    event = event_for("http", "POST", "/v2/models/iris/versions/1/infer")  # the logistic regression
    event["body"] = base64.b64encode(text + payload).decode()
    event["isBase64Encoded"] = True
    event["headers"]["inference-header-content-length"] = str(len(text)) if declared is None else declared
    event["headers"]["content-type"] = "application/octet-stream"
    return event


def binary_input(array: np.ndarray, datatype: str = "FP64", size: int | None = None) -> dict[str, Any]:
    nbytes = array.nbytes if size is None else size
    return {
        "name": "input-0",
        "shape": list(array.shape),
        "datatype": datatype,
        "parameters": {"binary_data_size": nbytes},
    }


def split_answer(response: dict[str, Any]) -> tuple[dict[str, Any], bytes]:
    assert response["statusCode"] == 200 and response["isBase64Encoded"], response["body"]
    raw = base64.b64decode(response["body"])
    length = int(response["headers"]["Inference-Header-Content-Length"])
    assert response["headers"]["Content-Type"] == "application/octet-stream"
    return json.loads(raw[:length]), raw[length:]


def _error(response: dict[str, Any]) -> str:
    assert response["statusCode"] == 400, response["body"]
    return str(response_json(response)["error"])


def test_binary_inputs_with_json_outputs_answer_as_the_model(invoke: Invoke, trained: TrainedModels) -> None:
    response = invoke(binary_event({"inputs": [binary_input(ROWS)]}, ROWS.astype("<f8").tobytes()))

    assert response["statusCode"] == 200 and not response["isBase64Encoded"]
    assert response_json(response)["outputs"][0]["data"] == trained.logistic.predict(ROWS).tolist()


def test_outputs_asked_as_binary_follow_the_header(invoke: Invoke, trained: TrainedModels) -> None:
    header = {
        "inputs": [binary_input(ROWS.astype(np.float32), "FP32")],
        "outputs": [{"name": "predict", "parameters": {"binary_data": True}}, {"name": "predict_proba"}],
    }

    answer, payload = split_answer(invoke(binary_event(header, ROWS.astype("<f4").tobytes())))

    labels, proba = answer["outputs"]
    assert labels["parameters"] == {"binary_data_size": 16} and "data" not in labels
    assert np.frombuffer(payload, "<i8").tolist() == trained.logistic.predict(ROWS.astype(np.float32)).tolist()
    np.testing.assert_allclose(proba["data"], trained.logistic.predict_proba(ROWS.astype(np.float32)).ravel())


def test_binary_data_output_makes_every_output_binary(invoke: Invoke, trained: TrainedModels) -> None:
    header = {
        "inputs": [binary_input(ROWS)],
        "outputs": [{"name": "predict"}, {"name": "predict_proba"}],
        "parameters": {"binary_data_output": True},
    }

    answer, payload = split_answer(invoke(binary_event(header, ROWS.astype("<f8").tobytes())))

    sizes = [output["parameters"]["binary_data_size"] for output in answer["outputs"]]
    assert sizes == [16, 48] and len(payload) == 64
    np.testing.assert_allclose(np.frombuffer(payload[16:], "<f8"), trained.logistic.predict_proba(ROWS).ravel())


def test_json_inputs_may_ask_for_binary_outputs(invoke: Invoke, trained: TrainedModels) -> None:
    body = {
        "inputs": [{"name": "input-0", "shape": [2, 4], "datatype": "FP64", "data": ROWS.tolist()}],
        "outputs": [{"name": "predict", "parameters": {"binary_data": True}}],
    }
    _, payload = split_answer(invoke(event_for("http", "POST", "/v2/models/iris/versions/1/infer", body)))

    assert np.frombuffer(payload, "<i8").tolist() == trained.logistic.predict(ROWS).tolist()


def _bytes_elements(*texts: bytes) -> bytes:
    return b"".join(struct.pack("<I", len(text)) + text for text in texts)


@pytest.mark.parametrize(
    ("header", "payload", "declared", "message"),
    [
        ({"inputs": [binary_input(ROWS)]}, ROWS.tobytes()[:-8], None, "binary_data_size"),
        ({"inputs": [binary_input(ROWS, size=56)]}, ROWS.tobytes()[:56], None, "takes 64"),
        ({"inputs": [binary_input(ROWS)]}, ROWS.tobytes() + b"\0", None, "bytes after its binary inputs"),
        ({"inputs": [binary_input(ROWS)]}, ROWS.tobytes(), "99999", "Inference-Header-Content-Length"),
        ({"inputs": [binary_input(ROWS)]}, ROWS.tobytes(), "-1", "Inference-Header-Content-Length"),
        ({"inputs": [binary_input(ROWS)]}, ROWS.tobytes(), "\u00b2", "Inference-Header-Content-Length"),
        ({"inputs": [binary_input(ROWS)]}, ROWS.tobytes(), "\u0661\u0662", "Inference-Header-Content-Length"),
        ({"inputs": [binary_input(ROWS)]}, ROWS.tobytes(), "5", "JSON"),
        ({"inputs": [{**binary_input(ROWS), "data": ROWS.tolist()}]}, ROWS.tobytes(), None, "must not also carry"),
        ({"inputs": [binary_input(ROWS, "FP8")]}, ROWS.tobytes(), None, "datatype"),
        ({"inputs": [binary_input(np.ones((1, 4), np.bool_), "BOOL")]}, b"\0\1\2\1", None, "0 or 1"),
        ({"inputs": [{**binary_input(ROWS), "shape": [2, 0]}]}, ROWS.tobytes(), None, "positive"),
        (
            {"inputs": [{"name": "input-0", "shape": [2], "datatype": "BYTES", "parameters": {"binary_data_size": 8}}]},
            _bytes_elements(b"good"),
            None,
            "fewer than the 2 elements",
        ),
        (
            {"inputs": [{"name": "input-0", "shape": [1], "datatype": "BYTES", "parameters": {"binary_data_size": 8}}]},
            struct.pack("<I", 200) + b"good",
            None,
            "runs past",
        ),
        (
            {"inputs": [{"name": "input-0", "shape": [1], "datatype": "BYTES", "parameters": {"binary_data_size": 6}}]},
            _bytes_elements(b"\xff\xfe"),
            None,
            "UTF-8",
        ),
    ],
)
def test_sizes_that_do_not_add_up_are_a_400(
    invoke: Invoke, header: dict[str, Any], payload: bytes, declared: str | None, message: str
) -> None:
    assert message in _error(invoke(binary_event(header, payload, declared=declared)))


def test_binary_text_for_a_text_model(invoke: Invoke, model_dir: Path) -> None:
    from sklearn.feature_extraction.text import CountVectorizer
    from sklearn.naive_bayes import MultinomialNB
    from sklearn.pipeline import make_pipeline

    model = make_pipeline(CountVectorizer(), MultinomialNB()).fit(["good film", "bad film"], ["up", "down"])
    publish(model_dir, "words", 1, model)
    texts = [b"good film", b"bad film"]
    header = {
        "inputs": [{"name": "input-0", "shape": [2], "datatype": "BYTES", "parameters": {"binary_data_size": 25}}],
        "outputs": [{"name": "predict", "parameters": {"binary_data": True}}],
    }
    event = binary_event(header, _bytes_elements(*texts))
    event["rawPath"] = event["requestContext"]["http"]["path"] = "/v2/models/words/infer"

    answer, payload = split_answer(invoke(event))

    assert answer["outputs"][0]["datatype"] == "BYTES"
    assert payload == _bytes_elements(*(label.encode() for label in model.predict(["good film", "bad film"])))


def test_a_rest_api_event_names_the_binary_headers_in_any_case(invoke: Invoke, trained: TrainedModels) -> None:
    """REST API events keep the client's header case; HTTP API and function URL events lower-case it."""
    text = json.dumps({"inputs": [binary_input(ROWS)]}).encode()
    event = event_for("rest", "POST", "/v2/models/iris/versions/1/infer", content_type="Application/Octet-Stream")
    event["body"] = base64.b64encode(text + ROWS.astype("<f8").tobytes()).decode()
    event["isBase64Encoded"] = True
    event["headers"]["Inference-Header-Content-Length"] = str(len(text))

    response = invoke(event)

    assert response["statusCode"] == 200, response["body"]
    assert response_json(response)["outputs"][0]["data"] == trained.logistic.predict(ROWS).tolist()


def test_a_binary_body_becomes_the_same_typed_request_as_its_json_body() -> None:
    from lambdas.inference import binary, protocol

    outputs = [{"name": "predict", "parameters": {"binary_data": True}}, {"name": "predict_proba"}]
    as_json = protocol.parse_v2(
        {"id": "a", "inputs": [{**binary_input(ROWS), "data": ROWS.tolist()}], "outputs": outputs}
    )
    header = json.dumps({"id": "a", "inputs": [binary_input(ROWS)], "outputs": outputs}).encode()
    as_binary = protocol.parse_v2(*binary.split_request(header + ROWS.astype("<f8").tobytes(), str(len(header))))

    assert (as_binary.id, as_binary.outputs, as_binary.binary_outputs) == (
        as_json.id,
        as_json.outputs,
        as_json.binary_outputs,
    )
    assert as_binary.binary_outputs == frozenset({"predict"})
    (sent_json,), (sent_binary,) = as_json.inputs, as_binary.inputs
    assert (sent_binary.name, sent_binary.shape, sent_binary.datatype) == (
        sent_json.name,
        sent_json.shape,
        sent_json.datatype,
    )
    np.testing.assert_array_equal(np.asarray(sent_binary.data), np.asarray(sent_json.data))


def test_json_and_binary_requests_reach_the_service_as_one_typed_request(
    invoke: Invoke, trained: TrainedModels, monkeypatch: pytest.MonkeyPatch
) -> None:
    from lambdas.common.payloads import InferRequest
    from lambdas.inference import routes

    seen: list[InferRequest] = []
    service = routes.service()
    original = service.v2_infer

    def spy(model: Any, request: InferRequest) -> Any:
        seen.append(request)
        return original(model, request)

    monkeypatch.setattr(service, "v2_infer", spy)
    json_event = event_for("http", "POST", "/v2/models/iris/versions/1/infer")
    json_event["body"] = json.dumps({"inputs": [{**binary_input(ROWS), "data": ROWS.tolist()}]})
    from_json = response_json(invoke(json_event))["outputs"][0]["data"]
    from_binary = response_json(invoke(binary_event({"inputs": [binary_input(ROWS)]}, ROWS.astype("<f8").tobytes())))

    assert [type(request) for request in seen] == [InferRequest, InferRequest]
    assert from_json == from_binary["outputs"][0]["data"] == trained.logistic.predict(ROWS).tolist()
