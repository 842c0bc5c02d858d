"""What the V2, V1 and original formats return: typed outputs, echoed ids, flat or nested data, text models."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sklearn.feature_extraction.text import CountVectorizer
from sklearn.naive_bayes import MultinomialNB
from sklearn.pipeline import make_pipeline

from tests.support.inference import (
    SETOSA,
    VIRGINICA,
    Invoke,
    TrainedModels,
    event_for,
    publish,
    response_json,
    v2_request,
)


def _post(invoke: Invoke, path: str, body: Any) -> Any:
    response = invoke(event_for("http", "POST", path, body))
    assert response["statusCode"] == 200, response["body"]
    return response_json(response)


def test_predict_and_predict_proba_come_back_typed_with_the_id_echoed(invoke: Invoke) -> None:
    request = v2_request(
        [SETOSA, VIRGINICA], [2, 4], id="req-42", outputs=[{"name": "predict"}, {"name": "predict_proba"}]
    )
    body = _post(invoke, "/v2/models/iris/versions/1/infer", request)

    assert body["id"] == "req-42"
    assert body["model_name"] == "iris" and body["model_version"] == "1"
    predict, proba = body["outputs"]
    assert predict == {"name": "predict", "shape": [2], "datatype": "INT64", "data": [0, 2]}
    assert proba["name"] == "predict_proba" and proba["shape"] == [2, 3] and proba["datatype"] == "FP64"
    assert len(proba["data"]) == 6
    assert sum(proba["data"][:3]) == pytest.approx(1.0) and proba["data"][0] > 0.9


def test_without_an_id_none_is_invented(invoke: Invoke) -> None:
    assert "id" not in _post(invoke, "/v2/models/iris/infer", v2_request(SETOSA, [1, 4]))


@pytest.mark.parametrize(
    ("data", "datatype"),
    [
        ([SETOSA], "FP64"),
        (SETOSA, "FP32"),
        ([5, 3, 1, 0], "INT64"),
        ([5, 3, 1, 0], "UINT8"),
        ([5, 3, 1, 0], "INT16"),
        ([5, 3, 1, 0], "FP16"),
    ],
)
def test_flat_or_nested_data_of_any_numeric_datatype_is_accepted(invoke: Invoke, data: Any, datatype: str) -> None:
    body = _post(invoke, "/v2/models/iris/versions/1/infer", v2_request(data, [1, 4], datatype))
    assert body["outputs"][0]["data"] == [0]


def test_string_labels_are_bytes_and_regressors_are_fp64(
    invoke: Invoke, model_dir: Path, trained: TrainedModels
) -> None:
    publish(model_dir, "species", 1, trained.named_labels)
    publish(model_dir, "width", 1, trained.regressor)

    labels = _post(invoke, "/v2/models/species/infer", v2_request(SETOSA, [1, 4]))["outputs"][0]
    assert labels == {"name": "predict", "shape": [1], "datatype": "BYTES", "data": ["setosa"]}
    width = _post(invoke, "/v2/models/width/infer", v2_request([5.1, 3.5, 1.4], [1, 3]))["outputs"][0]
    assert width["datatype"] == "FP64" and isinstance(width["data"][0], float)
    assert _post(invoke, "/v1/models/species:predict", {"instances": [SETOSA]}) == {"predictions": ["setosa"]}


def test_a_text_pipeline_takes_bytes_rows(invoke: Invoke, model_dir: Path) -> None:
    model = make_pipeline(CountVectorizer(), MultinomialNB()).fit(
        ["great film", "loved it", "awful film", "hated it"], ["pos", "pos", "neg", "neg"]
    )
    publish(model_dir, "reviews", 1, model)

    body = _post(invoke, "/v2/models/reviews/infer", v2_request(["loved this film", "awful"], [2], "BYTES"))
    assert body["outputs"][0]["data"] == ["pos", "neg"]
    assert _post(invoke, "/inference", {"name": "reviews", "inputs": ["hated it"]}) == {"predicted_label": ["neg"]}
    metadata = response_json(invoke(event_for("http", "GET", "/v2/models/reviews", None)))
    assert metadata["inputs"] == [{"name": "input-0", "datatype": "BYTES", "shape": [-1]}]


def test_model_metadata_describes_inputs_outputs_and_versions(invoke: Invoke, runtime: str) -> None:
    response = invoke(event_for("rest", "GET", "/v2/models/iris/versions/1", None))
    assert response_json(response) == {
        "name": "iris",
        "versions": ["1", "2"],
        "platform": {"scikit-learn": "sklearn", "onnxruntime": "onnxruntime_onnx"}[runtime],
        "inputs": [{"name": "input-0", "datatype": "FP64", "shape": [-1, 4]}],
        "outputs": [
            {"name": "predict", "datatype": "INT64", "shape": [-1]},
            {"name": "predict_proba", "datatype": "FP64", "shape": [-1, 3]},
        ],
    }


def test_the_original_format_takes_an_optional_version(invoke: Invoke) -> None:
    request = {"name": "iris", "inputs": [SETOSA, VIRGINICA]}
    assert _post(invoke, "/inference", request) == {"predicted_label": [0, 2]}
    assert _post(invoke, "/inference", {**request, "version": 1}) == {"predicted_label": [0, 2]}
    assert _post(invoke, "/inference", {**request, "version": "2"}) == {"predicted_label": [0, 2]}


def test_the_repository_index_reports_state_per_version(invoke: Invoke, model_dir: Path) -> None:
    publish(model_dir, "broken", 1, b"not a model")
    invoke(event_for("http", "POST", "/v2/models/iris/versions/1/infer", v2_request(SETOSA, [1, 4])))
    invoke(event_for("http", "GET", "/v2/models/broken/ready", None))

    index = _post(invoke, "/v2/repository/index", {})
    states = {(entry["name"], entry["version"]): entry["state"] for entry in index}
    assert states == {("broken", "1"): "UNAVAILABLE", ("iris", "1"): "READY", ("iris", "2"): "UNKNOWN"}
    assert [entry["name"] for entry in _post(invoke, "/v2/repository/index", {"ready": True})] == ["iris"]


@pytest.mark.parametrize("raw_body, status", [("", 200), ("\r\n", 400), ("   ", 400)])
def test_the_repository_index_takes_no_body_but_refuses_blanks(invoke: Invoke, raw_body: str, status: int) -> None:
    answer = invoke(event_for("http", "POST", "/v2/repository/index", raw_body=raw_body))
    assert answer["statusCode"] == status
    if status == 400:
        assert "empty" in response_json(answer)["error"]


def test_v1_lists_models(invoke: Invoke, model_dir: Path, trained: TrainedModels) -> None:
    publish(model_dir, "alpha", 3, trained.logistic)
    assert response_json(invoke(event_for("http", "GET", "/v1/models", None))) == {"models": ["alpha", "iris"]}
