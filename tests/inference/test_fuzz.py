"""Generated request bodies, paths and headers never produce a 5xx; every error is a JSON {"error": ...}."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lambdas.common.datatypes import DATATYPES
from lambdas.common.settings import Settings
from tests.support.context import inference_context
from tests.support.inference import FORMATS, TrainedModels, event_for, publish, publish_signed, response_json
from tests.support.inference import settings as inference_settings

FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
POST_PATHS = (
    "/v2/models/iris/infer",
    "/v2/models/iris/versions/1/infer",
    "/v2/models/words/infer",
    "/v1/models/iris:predict",
    "/inference",
    "/v2/repository/index",
)

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(),  # NaN and infinities included: json.dumps writes them as bare tokens
    st.text(max_size=8),
)
json_values = st.recursive(
    scalars,
    lambda children: st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=6), children, max_size=4),
    max_leaves=30,
)
shapes = st.one_of(
    st.lists(st.integers(min_value=-2, max_value=6), min_size=0, max_size=3),
    st.lists(st.integers(min_value=0, max_value=2**64), min_size=1, max_size=3),
    json_values,
)
data = st.one_of(
    st.lists(st.floats(min_value=-1e6, max_value=1e6), max_size=12),
    st.lists(st.lists(st.integers(min_value=-300, max_value=300), min_size=4, max_size=4), max_size=3),
    st.lists(st.text(max_size=10), max_size=4),
    json_values,
)
tensors = st.fixed_dictionaries(
    {"name": st.text(max_size=5), "shape": shapes, "datatype": st.sampled_from((*DATATYPES, "FP8", "")), "data": data}
)
v2_requests = st.fixed_dictionaries(
    {"inputs": st.lists(tensors, min_size=0, max_size=2)},
    optional={
        "id": st.one_of(st.text(max_size=8), json_values),
        "outputs": st.one_of(
            st.lists(st.fixed_dictionaries({"name": st.sampled_from(["predict", "predict_proba", "x"])}), max_size=3),
            json_values,
        ),
        "parameters": json_values,
    },
)
v1_requests = st.fixed_dictionaries({"instances": data})
# Named-column forms for a model fitted on a DataFrame with columns age, income (numbers) and city (strings).
column_names = st.sampled_from(["age", "income", "city", "colour", ""])
content_types = st.one_of(st.just({"content_type": "pd"}), st.fixed_dictionaries({"content_type": json_values}))
column_tensors = st.fixed_dictionaries(
    {
        "name": column_names,
        "shape": shapes,
        "datatype": st.one_of(st.sampled_from((*DATATYPES, "")), json_values),
        "data": st.one_of(st.lists(scalars, max_size=4), st.lists(st.lists(scalars, max_size=3), max_size=3), data),
    },
    optional={"parameters": st.one_of(content_types, json_values)},
)
column_requests = st.fixed_dictionaries(
    {"inputs": st.lists(column_tensors, min_size=0, max_size=4)},
    optional={"parameters": st.one_of(content_types, json_values), "outputs": json_values},
)
record_rows = st.lists(
    st.one_of(st.dictionaries(column_names, scalars, max_size=4), st.lists(scalars, max_size=4), scalars), max_size=4
)
original_requests = st.fixed_dictionaries(
    {"name": st.sampled_from(["iris", "words", "nope", "../iris"]) | st.text(max_size=6), "inputs": data},
    optional={"version": json_values},
)


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory, trained: TrainedModels) -> Iterator[ModuleType]:
    from sklearn.feature_extraction.text import CountVectorizer
    from sklearn.naive_bayes import MultinomialNB
    from sklearn.pipeline import make_pipeline

    from lambdas.inference import handler

    model_dir: Path = tmp_path_factory.mktemp("fuzz")
    publish(model_dir, "iris", 1, trained.logistic)
    publish(model_dir, "iris", 2, trained.forest)
    text_model = make_pipeline(CountVectorizer(), MultinomialNB()).fit(["good film", "bad film"], [0, 1])
    publish(model_dir, "words", 1, text_model)
    publish_signed(model_dir, "churn", 1, _named_model())
    handler.configure(inference_settings(model_dir, max_request_bytes=64 * 1024))
    yield handler
    handler.configure(Settings.from_env())


def _named_model() -> Any:
    import pandas as pd
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    frame = pd.DataFrame({"age": [20.0, 30, 40, 50], "income": [1.0, 2, 3, 4], "city": ["a", "b", "a", "b"]})
    encode = ColumnTransformer([("n", StandardScaler(), ["age", "income"]), ("s", OneHotEncoder(), ["city"])])
    return make_pipeline(encode, LogisticRegression()).fit(frame, [0, 1, 0, 1])


def _assert_not_a_server_error(handler: ModuleType, event: dict[str, Any]) -> None:
    response = handler.lambda_handler(event, inference_context())
    assert response["statusCode"] < 500, response["body"]
    if response["statusCode"] == 200 and response["isBase64Encoded"]:  # a binary tensor answer
        return
    body = response_json(response)
    if response["statusCode"] >= 400:
        assert isinstance(body, dict) and set(body) == {"error"}


@FUZZ
@given(body=v2_requests, path=st.sampled_from(POST_PATHS[:3]), event_format=st.sampled_from(FORMATS))
def test_generated_v2_requests_never_fail_the_server(
    served: ModuleType, body: Any, path: str, event_format: str
) -> None:
    _assert_not_a_server_error(served, event_for(event_format, "POST", path, raw_body=json.dumps(body)))


@FUZZ
@given(body=st.one_of(v1_requests, original_requests), path=st.sampled_from(POST_PATHS[3:5]))
def test_generated_v1_and_original_requests_never_fail_the_server(served: ModuleType, body: Any, path: str) -> None:
    _assert_not_a_server_error(served, event_for("rest", "POST", path, raw_body=json.dumps(body)))


@FUZZ
@given(
    body=column_requests,
    path=st.sampled_from(["/v2/models/churn/infer", "/v2/models/iris/infer", "/v2/models/words/infer"]),
)
def test_generated_column_requests_never_fail_the_server(served: ModuleType, body: Any, path: str) -> None:
    _assert_not_a_server_error(served, event_for("http", "POST", path, raw_body=json.dumps(body)))


@FUZZ
@given(rows=record_rows, path=st.sampled_from(["/v1/models/churn:predict", "/v1/models/iris:predict", "/inference"]))
def test_generated_records_never_fail_the_server(served: ModuleType, rows: Any, path: str) -> None:
    body = {"instances": rows} if path.startswith("/v1") else {"name": "churn", "inputs": rows}
    _assert_not_a_server_error(served, event_for("http", "POST", path, raw_body=json.dumps(body)))


@FUZZ
@given(body=json_values, path=st.sampled_from(POST_PATHS))
def test_any_json_body_on_any_post_route_never_fails_the_server(served: ModuleType, body: Any, path: str) -> None:
    _assert_not_a_server_error(served, event_for("http", "POST", path, raw_body=json.dumps(body)))


@FUZZ
@given(
    raw=st.one_of(st.text(max_size=40), st.binary(max_size=40).map(lambda b: b.decode("latin-1"))),
    content_type=st.one_of(st.none(), st.sampled_from(["application/json", "text/plain", ""]), st.text(max_size=10)),
    path=st.sampled_from(POST_PATHS),
    base64_body=st.booleans(),
)
def test_arbitrary_body_text_and_content_types_never_fail_the_server(
    served: ModuleType, raw: str, content_type: str | None, path: str, base64_body: bool
) -> None:
    event = event_for("function_url", "POST", path, raw_body=raw, content_type=content_type, base64_body=base64_body)
    _assert_not_a_server_error(served, event)


@FUZZ
@given(
    method=st.sampled_from(["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"]),
    segments=st.lists(
        st.one_of(
            st.sampled_from(["v2", "v1", "models", "iris", "versions", "1", "infer", "ready", "iris:predict", ".."]),
            st.text(alphabet=st.characters(exclude_characters="/"), min_size=1, max_size=8),
        ),
        max_size=6,
    ),
    event_format=st.sampled_from(FORMATS),
)
def test_arbitrary_paths_and_methods_never_fail_the_server(
    served: ModuleType, method: str, segments: list[str], event_format: str
) -> None:
    path = "/" + "/".join(segments)
    _assert_not_a_server_error(served, event_for(event_format, method, path, raw_body="{}"))


# Binary tensor requests: a JSON header (often a valid one) and any bytes after it, with any declared sizes.
binary_tensors = st.fixed_dictionaries(
    {
        "name": st.sampled_from(["input-0", "age", "income", "city"]),
        "shape": shapes,
        "datatype": st.sampled_from((*DATATYPES, "FP8")),
        "parameters": st.one_of(
            st.fixed_dictionaries({"binary_data_size": st.one_of(st.integers(-4, 80), json_values)}), json_values
        ),
    },
    optional={"data": data},
)
binary_headers = st.fixed_dictionaries(
    {"inputs": st.lists(binary_tensors, max_size=3)},
    optional={
        "outputs": st.lists(
            st.fixed_dictionaries(
                {"name": st.sampled_from(["predict", "predict_proba"])},
                optional={"parameters": st.fixed_dictionaries({"binary_data": st.booleans() | json_values})},
            ),
            max_size=2,
        ),
        "parameters": st.one_of(st.fixed_dictionaries({"binary_data_output": st.booleans()}), json_values),
    },
)


@FUZZ
@given(
    header=binary_headers,
    payload=st.binary(max_size=96),
    declared=st.one_of(st.none(), st.text(max_size=6), st.integers(-3, 400).map(str)),
    path=st.sampled_from(["/v2/models/iris/infer", "/v2/models/words/infer", "/v2/models/churn/infer"]),
)
def test_generated_binary_tensor_requests_never_fail_the_server(
    served: ModuleType, header: Any, payload: bytes, declared: str | None, path: str
) -> None:
    text = json.dumps(header).encode()
    event = event_for("http", "POST", path)
    event["body"] = base64.b64encode(text + payload).decode()
    event["isBase64Encoded"] = True
    event["headers"]["inference-header-content-length"] = str(len(text)) if declared is None else declared
    event["headers"]["content-type"] = "application/octet-stream"
    _assert_not_a_server_error(served, event)
