"""tritonclient, the most used V2 client, with its default settings (binary tensor data in and out) against the
local stack (opened with LOCAL_API_AUTHORIZATION=NONE): every answer is what the model answers locally, and what
the same client gets with JSON."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import joblib
import numpy as np
import pytest
import tritonclient.http as triton
from sklearn.datasets import load_iris
from sklearn.ensemble import RandomForestClassifier
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline

from local_stack.process import StackProcess, running_stack, wait_for_status

pytestmark = pytest.mark.e2e

TEXTS = ["a great film", "a dull and boring film", "great acting, great story", "boring"]
TEXT_LABELS = ["good", "bad", "good", "bad"]


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    features, labels = load_iris(return_X_y=True)
    return {
        "iris": LogisticRegression(max_iter=1000).fit(features, labels),
        "forest": RandomForestClassifier(n_estimators=20, random_state=0).fit(features, labels),
        "reviews": make_pipeline(TfidfVectorizer(), LogisticRegression()).fit(TEXTS, TEXT_LABELS),
    }


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory, models: dict[str, Any]) -> Iterator[triton.InferenceServerClient]:
    files = tmp_path_factory.mktemp("models")
    # tritonclient cannot sign its requests: it calls an open stack, as it would an API with authorization NONE.
    with running_stack(tmp_path_factory.mktemp("efs"), env={"LOCAL_API_AUTHORIZATION": "NONE"}) as stack:
        for name, model in models.items():
            joblib.dump(model, files / f"{name}.joblib")
            stack.aws("s3", "cp", str(files / f"{name}.joblib"), f"s3://{stack.bucket}/{name}.joblib")
        for name in models:
            wait_for_status(f"{stack.inference_url}/v2/models/{name}/ready", 200, timeout=60)
        yield triton.InferenceServerClient(url=_host(stack))


def _host(stack: StackProcess) -> str:
    return stack.inference_url.removeprefix("http://").rstrip("/")


def _infer(
    client: triton.InferenceServerClient, model: str, array: np.ndarray, datatype: str, *, binary: bool
) -> triton.InferResult:
    tensor = triton.InferInput("input-0", list(array.shape), datatype)
    tensor.set_data_from_numpy(array, binary_data=binary)
    outputs = [triton.InferRequestedOutput(name, binary_data=binary) for name in ("predict", "predict_proba")]
    return client.infer(model, [tensor], outputs=outputs)


@pytest.mark.parametrize("model", ["iris", "forest"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_binary_tensors_answer_as_the_model_and_as_json_do(
    client: triton.InferenceServerClient, models: dict[str, Any], model: str, dtype: Any
) -> None:
    rows = load_iris().data[::13].astype(dtype)
    datatype = "FP64" if dtype is np.float64 else "FP32"

    binary = _infer(client, model, rows, datatype, binary=True)
    as_json = _infer(client, model, rows, datatype, binary=False)

    expected = models[model].predict(rows)
    np.testing.assert_array_equal(binary.as_numpy("predict"), expected)
    np.testing.assert_array_equal(as_json.as_numpy("predict"), expected)
    np.testing.assert_allclose(binary.as_numpy("predict_proba"), models[model].predict_proba(rows), rtol=1e-6)
    np.testing.assert_array_equal(binary.as_numpy("predict_proba"), as_json.as_numpy("predict_proba"))


def test_the_client_defaults_send_and_receive_binary(
    client: triton.InferenceServerClient, models: dict[str, Any]
) -> None:
    rows = load_iris().data[:5]
    tensor = triton.InferInput("input-0", list(rows.shape), "FP64")
    tensor.set_data_from_numpy(rows)  # binary_data=True by default

    result = client.infer("iris", [tensor])  # no outputs named: every output, binary

    np.testing.assert_array_equal(result.as_numpy("predict"), models["iris"].predict(rows))
    assert result.get_output("predict")["parameters"]["binary_data_size"] == 5 * 8


def test_bytes_tensors_of_a_text_model_travel_length_prefixed(
    client: triton.InferenceServerClient, models: dict[str, Any]
) -> None:
    texts = np.array(["great film", "boring story", "a great, great cast"], dtype=object)

    binary = _infer(client, "reviews", texts, "BYTES", binary=True)
    as_json = _infer(client, "reviews", texts, "BYTES", binary=False)

    expected = models["reviews"].predict(list(texts))
    assert [label.decode() for label in binary.as_numpy("predict")] == expected.tolist()
    assert as_json.as_numpy("predict").tolist() == expected.tolist()
    np.testing.assert_allclose(binary.as_numpy("predict_proba"), models["reviews"].predict_proba(list(texts)))


def test_a_binary_size_that_disagrees_with_the_shape_is_a_400(client: triton.InferenceServerClient) -> None:
    rows = load_iris().data[:2]
    tensor = triton.InferInput("input-0", [2, 4], "FP64")
    tensor.set_data_from_numpy(rows)
    tensor.set_shape([3, 4])  # a stale shape: the bytes hold two rows

    with pytest.raises(triton.InferenceServerException, match="binary_data_size") as raised:
        client.infer("iris", [tensor])
    assert raised.value.status() == "400"
