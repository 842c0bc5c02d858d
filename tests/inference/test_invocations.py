"""MLflow's scoring protocol at ``/v2/models/{name}/invocations``: its body forms decoded by the model's signature,
answered as ``{"predictions": [...]}``; every malformed body a 400 naming what is wrong."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.compose import make_column_transformer
from sklearn.datasets import load_iris
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder

from tests.support.inference import Invoke, event_for, publish_signed, response_json

IRIS = load_iris()
ROWS = IRIS.data[[0, 60, 120]].tolist()


@pytest.fixture
def published(model_dir: Path) -> dict[str, Any]:
    iris = LogisticRegression(max_iter=500).fit(IRIS.data, IRIS.target)
    frame = pd.DataFrame({"age": [20.0, 35.0, np.nan, 61.0] * 10, "plan": ["basic", "pro", "pro", None] * 10})
    encoder = make_pipeline(SimpleImputer(strategy="most_frequent"), OneHotEncoder(handle_unknown="ignore"))
    churn = make_pipeline(
        make_column_transformer((SimpleImputer(), ["age"]), (encoder, ["plan"])), LogisticRegression()
    ).fit(frame, [0, 1, 1, 0] * 10)
    publish_signed(model_dir, "iris", 1, iris)
    publish_signed(model_dir, "churn", 1, churn)
    return {"iris": iris, "churn": churn}


def call(invoke: Invoke, path: str, body: Any = None, *, csv: str | None = None) -> tuple[int, Any]:
    if csv is not None:
        event = event_for("http", "POST", path, raw_body=csv, content_type="text/csv")
    else:
        event = event_for("http", "POST", path, body)
    response = invoke(event)
    return response["statusCode"], response_json(response)


@pytest.mark.parametrize(
    "body",
    [
        {"instances": ROWS},
        {"inputs": ROWS},
        {"dataframe_split": {"data": ROWS}},
        {"dataframe_split": {"columns": ["a", "b", "c", "d"], "data": ROWS, "index": [0, 1, 2]}},
        {"inputs": ROWS, "params": {"anything": 1}},
    ],
    ids=["instances", "inputs", "split-without-columns", "split", "params"],
)
def test_a_positional_model_answers_every_form_as_its_predict(
    invoke: Invoke, published: dict[str, Any], body: Any
) -> None:
    status, answer = call(invoke, "/v2/models/iris/invocations", body)
    assert status == 200, answer
    assert answer == {"predictions": published["iris"].predict(np.asarray(ROWS)).tolist()}


def test_a_csv_body_for_a_positional_model_is_its_rows(invoke: Invoke, published: dict[str, Any]) -> None:
    text = "a,b,c,d\n" + "\n".join(",".join(map(str, row)) for row in ROWS) + "\n"
    status, answer = call(invoke, "/v2/models/iris/versions/1/invocations", csv=text)
    assert status == 200, answer
    assert answer == {"predictions": published["iris"].predict(np.asarray(ROWS)).tolist()}


def test_a_named_model_takes_records_columns_and_csv_with_missing_values(
    invoke: Invoke, published: dict[str, Any]
) -> None:
    frame = pd.DataFrame({"age": [41.0, np.nan, 29.0], "plan": ["pro", "basic", None]})
    expected = published["churn"].predict(frame).tolist()
    records = [{"age": 41.0, "plan": "pro"}, {"age": None, "plan": "basic"}, {"age": 29.0, "plan": None}]
    bodies = [
        {"dataframe_records": records},
        {"instances": records},
        {"inputs": {"age": [41.0, None, 29.0], "plan": ["pro", "basic", None]}},
        {"dataframe_split": {"columns": ["plan", "age"], "data": [["pro", 41.0], ["basic", None], [None, 29.0]]}},
    ]
    for body in bodies:
        assert call(invoke, "/v2/models/churn/invocations", body) == (200, {"predictions": expected}), body
    status, answer = call(invoke, "/v2/models/churn/invocations", csv="plan,age\npro,41\nbasic,\n,29\n")
    assert (status, answer) == (200, {"predictions": expected})


@pytest.mark.parametrize(
    "body, message",
    [
        ({}, "exactly one of"),
        ({"instances": ROWS, "inputs": ROWS}, "exactly one of"),
        ({"rows": ROWS}, "exactly one of"),
        ({"inputs": ROWS, "params": [1]}, "'params' must be an object"),
        ({"dataframe_split": {"columns": ["a"]}}, "non-empty 'data'"),
        ({"dataframe_split": {"columns": ["a", "b"], "data": [[1.0]]}}, "has 1 values for 2 columns"),
        ({"dataframe_split": {"columns": ["a", "a"], "data": [[1.0, 2.0]]}}, "names a column twice"),
        ({"dataframe_records": [[1, 2, 3, 4]]}, "list of records"),
        ({"inputs": {"a": 1}}, "map each column to a list"),
        ({"inputs": [[1.0, 2.0]]}, "4"),
    ],
)
def test_a_malformed_scoring_body_is_a_400_saying_what_is_wrong(
    invoke: Invoke, published: dict[str, Any], body: Any, message: str
) -> None:
    status, answer = call(invoke, "/v2/models/iris/invocations", body)
    assert status == 400
    assert message in answer["error"]


@pytest.mark.parametrize(
    "text, message",
    [
        ("", "header row"),
        ("age,plan\n", "header row"),
        ("age,plan\n1,pro,extra\n", "line 2 has 3 values"),
        ("age,age\n1,2\n", "names a column twice"),
        ("age,plan\nold,pro\n", "column 'age' takes numbers, got 'old'"),
        ("age,plan\ninf,pro\n", "column 'age' holds a number that is not finite"),
        ("age,city\n1,Oslo\n", "unknown column 'city'"),
    ],
)
def test_a_malformed_csv_body_is_a_400_saying_what_is_wrong(
    invoke: Invoke, published: dict[str, Any], text: str, message: str
) -> None:
    status, answer = call(invoke, "/v2/models/churn/invocations", csv=text)
    assert status == 400, answer
    assert message in answer["error"]


def test_an_unknown_model_or_version_is_a_404(invoke: Invoke, published: dict[str, Any]) -> None:
    assert call(invoke, "/v2/models/nope/invocations", {"inputs": ROWS})[0] == 404
    assert call(invoke, "/v2/models/iris/versions/7/invocations", {"inputs": ROWS})[0] == 404
