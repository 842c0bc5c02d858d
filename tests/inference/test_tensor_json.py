"""V2 bodies whose number arrays are read in C: the same answers as the model's own predict, the same document as a
plain JSON parse for everything else, and the usual errors for data that is not all numbers."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lambdas.inference import tensor_json
from lambdas.inference.body import parse_json
from lambdas.inference.tensor_json import parse_v2_request
from tests.support.inference import Invoke, TrainedModels, event_for, response_json, v2_request


@pytest.fixture(autouse=True, scope="module")
def _every_body_through_simdjson() -> Iterator[None]:
    """Small bodies take the plain parse; here every body, however small, is read through simdjson."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(tensor_json, "SMALL_BODY_CHARS", 0)
        yield


def _batch(rows: int) -> np.ndarray:
    """Rows near iris with full-precision doubles, so the text-to-number conversion is exercised digit for digit."""
    generator = np.random.default_rng(7)
    features: np.ndarray = generator.uniform([4.3, 2.0, 1.0, 0.1], [7.9, 4.4, 6.9, 2.5], size=(rows, 4))
    return features


ONE = [[5.1, 3.5, 1.4, 0.2]]


def _plain(document: Any, like: Any) -> Any:
    """The document with each numpy array as the list a plain parse (``like``) gave, once its values are checked
    to be that list's, flattened row-major."""
    if isinstance(document, dict) and isinstance(like, dict):
        return {key: _plain(value, like.get(key)) for key, value in document.items()}
    if isinstance(document, list) and isinstance(like, list) and len(document) == len(like):
        return [_plain(value, other) for value, other in zip(document, like, strict=True)]
    if isinstance(document, np.ndarray):
        assert document.tolist() == np.asarray(like, dtype=document.dtype).reshape(-1).tolist()
        return like
    return document


@pytest.mark.parametrize("nested", [True, False], ids=["nested", "flat"])
def test_a_batch_answers_as_the_model_does_locally(
    invoke: Invoke, trained: TrainedModels, runtime: str, nested: bool
) -> None:
    features = _batch(1000)
    data = features.tolist() if nested else features.reshape(-1).tolist()
    outputs = [{"name": "predict"}, {"name": "predict_proba"}]
    response = invoke(
        event_for("http", "POST", "/v2/models/iris/versions/1/infer", v2_request(data, [1000, 4], outputs=outputs))
    )
    assert response["statusCode"] == 200, response["body"]
    predict, proba = response_json(response)["outputs"]

    assert predict["data"] == trained.logistic.predict(features).tolist()
    expected = trained.logistic.predict_proba(features)
    if runtime == "scikit-learn":
        assert proba["data"] == expected.reshape(-1).tolist()
    else:  # onnxruntime computes in float32
        np.testing.assert_allclose(np.reshape(proba["data"], (1000, 3)), expected, atol=1e-5)


@pytest.mark.parametrize(
    "body",
    [
        v2_request([[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3]], [2, 4], id="a", parameters={"x": [1, {"y": None}]}),
        v2_request([5, 3, 1, 0], [1, 4], "INT64", outputs=[{"name": "predict", "parameters": {"binary_data": False}}]),
        v2_request([1, 18446744073709551615], [1, 2], "UINT64"),
        v2_request([1.5, None, 2.0, 3.0], [1, 4]),  # a missing value: the list, for the usual checks
        v2_request([True, 1.0, 2.0, 3.0], [1, 4]),
        v2_request(["5.1", "3.5", "1.4", "0.2"], [1, 4]),
        v2_request([1.5, 2, 3, 4], [1, 4], "INT32"),
        v2_request([2**70, 1, 1, 1], [1, 4], "INT64"),
        v2_request([[5.1, 3.5], [1.4, 0.2]], [1, 4]),  # nested unlike the shape: the list, refused later
        v2_request([[5.1, 3.5, 1.4], [0.2]], [2, 2]),
        v2_request(["a", "b"], [2], "BYTES"),
        v2_request([True, False], [1, 2], "BOOL"),
        {"inputs": [7, {"name": "x"}], "id": "é\u2603"},
        {"inputs": {"name": "x"}},
        [1, 2],
    ],
)
def test_the_document_is_what_a_plain_parse_gives(body: Any) -> None:
    text = json.dumps(body)
    expected = parse_json(text)
    assert _plain(parse_v2_request(text), expected) == expected


def test_all_number_data_of_a_numeric_datatype_comes_as_a_flat_array() -> None:
    document = parse_v2_request(json.dumps(v2_request(_batch(3).tolist(), [3, 4])))
    data = document["inputs"][0]["data"]
    assert isinstance(data, np.ndarray) and data.dtype == np.float64 and data.shape == (12,)
    assert data.tolist() == _batch(3).reshape(-1).tolist()
    integers = parse_v2_request(json.dumps(v2_request([5, 3, 1, 0], [1, 4], "INT8")))["inputs"][0]["data"]
    assert isinstance(integers, np.ndarray) and integers.dtype == np.int64


@pytest.mark.parametrize(
    "text",
    ['{"inputs": [', '{"inputs": [1e400]}', '{"a": Infinity}', "[" * 5000 + "]" * 5000, '"\\ud800"', "", '{"a":1} x'],
)
def test_what_simdjson_cannot_read_gets_the_usual_parse_and_its_error(text: str) -> None:
    def outcome(parse: Any) -> Any:
        try:
            return ("parsed", parse(text))
        except Exception as error:  # the comparison is of which error, with which message
            return (type(error).__name__, str(error))

    assert outcome(parse_v2_request) == outcome(parse_json)


def test_a_repeated_key_keeps_its_last_value_as_a_plain_parse_does() -> None:
    text = (
        '{"inputs": [{"name": "a", "shape": [1, 4], "datatype": "FP64", "data": [1, 2, 3, 4], "data": [5, 6, 7, 8]}]}'
    )
    expected = parse_json(text)
    assert _plain(parse_v2_request(text), expected) == expected
    assert parse_v2_request(text)["inputs"][0]["data"] == [5, 6, 7, 8]


def test_a_key_holding_a_nul_character_gets_its_own_value() -> None:
    text = '{"a": 1, "a\\u0000b": 2, "inputs": [{"name": "x", "name\\u0000": "y", "shape": [1], "data": [1]}]}'
    assert parse_v2_request(text) == parse_json(text)


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=4), children, max_size=4),
    max_leaves=12,
)
_TENSOR = st.fixed_dictionaries(
    {
        "datatype": st.sampled_from(["FP64", "FP32", "INT64", "INT8", "UINT64", "BYTES", "BOOL"]) | _JSON,
        "shape": st.lists(st.integers(-1, 5), max_size=3) | _JSON,
        "data": st.lists(st.lists(st.integers(-(2**65), 2**65) | st.floats(allow_nan=False), max_size=4), max_size=4)
        | st.lists(st.integers() | st.floats(allow_nan=False, allow_infinity=False), max_size=8)
        | _JSON,
    },
    optional={"name": st.text(max_size=4)},
).flatmap(lambda fields: st.dictionaries(st.text(max_size=3), _JSON, max_size=2).map(lambda extra: extra | fields))


@settings(max_examples=300, deadline=None)
@given(
    inputs=st.lists(_TENSOR, max_size=3) | _JSON,
    extra=st.dictionaries(st.text(max_size=4), _JSON, max_size=3),
)
def test_any_document_is_what_a_plain_parse_gives_or_fails_as_it_does(inputs: Any, extra: dict[str, Any]) -> None:
    text = json.dumps(extra | {"inputs": inputs})

    def outcome(parse: Any) -> Any:
        try:
            return ("parsed", parse(text))
        except Exception as error:  # the comparison is of which error, with which message
            return (type(error).__name__, str(error))

    expected = outcome(parse_json)
    got = outcome(parse_v2_request)
    assert (got[0], _plain(got[1], expected[1])) == expected


def test_a_small_body_is_the_plain_parse_and_a_large_one_reads_its_numbers_flat() -> None:
    small = json.dumps(v2_request(ONE, [1, 4]))
    large = json.dumps(v2_request(_batch(100).tolist(), [100, 4]))
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(tensor_json, "SMALL_BODY_CHARS", 1024)
        assert len(small) < 1024 <= len(large)
        assert parse_v2_request(small)["inputs"][0]["data"] == ONE
        assert isinstance(parse_v2_request(large)["inputs"][0]["data"], np.ndarray)
