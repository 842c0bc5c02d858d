"""A batch job's chunk scored as a request is: models published by the real loader, the runner the inference
function serves them with, rows from a file's columns. Every answer is compared with the model's own ``predict`` and
with the online V2 answer for the same rows, and refused rows carry the reason a V2 request gets."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_iris
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression

from lambdas.batch.chunk import ChunkRefused, score_chunk
from lambdas.inference.cache import LoadedModel
from tests.support.context import inference_context
from tests.support.inference import event_for, response_json
from tests.support.served import Served
from tests.support.tables import customers, imputing_pipeline, per_column, records

IRIS = load_iris()
FEATURES = ["sepal_length", "sepal_width", "petal_length", "petal_width"]


def loaded(served: Served, name: str) -> LoadedModel:
    from lambdas.inference import routes

    model = routes.service().cache.get(name)
    assert model.runner.runtime == served.runtime or served.runtime == "onnxruntime"
    return model


def csv_columns(rows: np.ndarray) -> dict[str, list[str | None]]:
    """Columns as a CSV file holds them: every value a string."""
    return {name: [repr(float(value)) for value in rows[:, index]] for index, name in enumerate(FEATURES)}


def missing_as_none(column: pd.Series) -> list[Any]:
    return [None if pd.isna(value) else value for value in column]


def online(served: Served, name: str, rows: np.ndarray) -> list[Any]:
    body = {"inputs": [{"name": "input-0", "shape": list(rows.shape), "datatype": "FP64", "data": rows.tolist()}]}
    return list(served.ok("POST", f"/v2/models/{name}/infer", body)["outputs"][0]["data"])


@pytest.mark.parametrize("estimator", [LogisticRegression(max_iter=500), RandomForestClassifier(20, random_state=0)])
def test_a_chunk_from_a_csv_answers_as_the_model_and_the_online_api(served: Served, estimator: Any) -> None:
    model = estimator.fit(IRIS.data, IRIS.target)
    served.publish("iris", model)
    rows = IRIS.data[::7]

    scored = score_chunk(
        loaded(served, "iris").runner, loaded(served, "iris").signature, csv_columns(rows), first_row=1, text=True
    )

    assert scored.errors == []
    assert scored.rows == list(range(1, len(rows) + 1))
    assert scored.columns["predict"] == model.predict(rows).tolist() == online(served, "iris", rows)


def test_probabilities_are_one_column_per_class(served: Served) -> None:
    model = LogisticRegression(max_iter=500).fit(IRIS.data, IRIS.target)
    served.publish("iris", model)
    rows = IRIS.data[::11]
    lm = loaded(served, "iris")

    scored = score_chunk(lm.runner, lm.signature, csv_columns(rows), first_row=1, output="predict_proba", text=True)

    assert list(scored.columns) == ["predict_proba_0", "predict_proba_1", "predict_proba_2"]
    table = np.column_stack([scored.columns[name] for name in scored.columns])
    np.testing.assert_allclose(table, model.predict_proba(rows), atol=1e-6)


def test_a_dataframe_pipeline_with_gaps_ignores_columns_it_does_not_take(served: Served) -> None:
    pipeline = imputing_pipeline()
    frame = customers(40, seed=3, gaps=True)
    served.publish("churn", pipeline, sample=records(frame.head(5)))
    lm = loaded(served, "churn")
    # As JSON lines and Parquet give them: a missing value is None.
    typed = {"customer_id": list(range(100, 140)), **{name: missing_as_none(frame[name]) for name in frame.columns}}

    scored = score_chunk(lm.runner, lm.signature, typed, first_row=1)

    expected = pipeline.predict(frame).tolist()
    assert scored.errors == []
    assert scored.columns["predict"] == expected
    answer = served.ok("POST", "/v2/models/churn/infer", per_column(frame, content_type=True))
    assert answer["outputs"][0]["data"] == expected


def test_rows_that_fail_their_checks_are_set_apart_with_the_v2_reason(served: Served) -> None:
    model = LogisticRegression(max_iter=500).fit(IRIS.data, IRIS.target)
    served.publish("iris", model)
    rows = IRIS.data[:20]
    columns = csv_columns(rows)
    columns["petal_length"][4] = "tall"  # a string in a numeric column
    columns["sepal_width"][13] = None  # a missing value, which a LogisticRegression refuses
    lm = loaded(served, "iris")

    scored = score_chunk(lm.runner, lm.signature, columns, first_row=101, text=True)

    good = [index for index in range(20) if index not in (4, 13)]
    assert scored.rows == [101 + index for index in good]
    assert scored.columns["predict"] == model.predict(rows[good]).tolist()
    assert [row for row, _ in scored.errors] == [105, 114]
    assert "NaN" in scored.errors[1][1] or "missing" in scored.errors[1][1], scored.errors[1][1]
    # The same row sent online as a CSV body is refused with the same reason.
    csv_body = ",".join(FEATURES) + "\n" + ",".join(str(columns[name][4]) for name in FEATURES) + "\n"
    event = event_for("http", "POST", "/v2/models/iris/invocations", content_type="text/csv", raw_body=csv_body)
    response = served.handler.lambda_handler(event, inference_context())
    assert response["statusCode"] == 400
    assert response_json(response)["error"] == scored.errors[0][1]


def test_a_file_without_a_column_the_model_needs_fails_the_chunk(served: Served) -> None:
    pipeline = imputing_pipeline()
    frame = customers(10, seed=1)
    served.publish("churn", pipeline, sample=records(frame.head(5)))
    lm = loaded(served, "churn")

    with pytest.raises(ChunkRefused, match="'plan'"):
        score_chunk(lm.runner, lm.signature, {n: frame[n].tolist() for n in frame.columns if n != "plan"}, first_row=1)


def test_a_positional_model_takes_exactly_its_features(served: Served) -> None:
    served.publish("iris", LogisticRegression(max_iter=500).fit(IRIS.data, IRIS.target))
    lm = loaded(served, "iris")
    columns: dict[str, list[str | None]] = {**csv_columns(IRIS.data[:3]), "extra": ["1", "2", "3"]}

    with pytest.raises(ChunkRefused, match="takes 4 features"):
        score_chunk(lm.runner, lm.signature, columns, first_row=1, text=True)
