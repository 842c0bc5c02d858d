"""DataFrame models, trained as teams train them, answer exactly what they answer locally in every request form:
named mixed-type columns, missing values, numeric DataFrames, pandas output, string labels, multi-output."""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np
import pandas as pd
import pytest
import sklearn
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier, RandomForestRegressor
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from lambdas.inference import routes
from tests.support.served import Served
from tests.support.tables import (
    COLUMNS,
    NUMBERS,
    STRINGS,
    churned,
    customers,
    every_form,
    imputing_pipeline,
    mixed_pipeline,
    per_column,
    records,
)


def test_a_column_transformer_pipeline_answers_as_it_does_locally_in_every_form(served: Served) -> None:
    model = mixed_pipeline()
    assert served.publish("churn", model) == {
        **dict.fromkeys(("deleted", "skipped", "rejected", "failed", "retry"), 0),
        "published": 1,
    }
    asked = customers(7, seed=1)

    expected = model.predict(asked).tolist()
    for form, answer in every_form(served, "churn", asked).items():
        assert answer == expected, form
    # On the fast path the pipeline is converted with one graph input per column, strings as string tensors.
    platform = served.ok("GET", "/v2/models/churn")["platform"]
    assert platform == {"scikit-learn": "sklearn", "onnxruntime": "onnxruntime_onnx"}[served.runtime]


def test_the_metadata_of_a_named_model_tells_a_client_what_to_send(served: Served) -> None:
    model = mixed_pipeline()
    served.publish("churn", model)

    metadata = served.ok("GET", "/v2/models/churn")

    assert metadata["inputs"] == [
        {
            "name": c,
            "datatype": "BYTES" if c in STRINGS else "FP64",
            "shape": [-1],
            "parameters": {"content_type": "pd"},
        }
        for c in COLUMNS
    ]
    assert metadata["outputs"] == [
        {"name": "predict", "datatype": "INT64", "shape": [-1]},
        {"name": "predict_proba", "datatype": "FP64", "shape": [-1, 2]},
    ]
    assert metadata["parameters"] == {
        "estimator": "sklearn.pipeline.Pipeline",
        "libraries": ["scikit-learn"],
        "trained_with": {"scikit-learn": sklearn.__version__},
        "served_with": {"scikit-learn": sklearn.__version__},
        "sha256": served.metadata_file("churn")["sha256"],  # of the file served: a client can tell its upload
    }
    # A client that knows only the metadata builds a request from it, and it is answered.
    row = customers(1, seed=5).iloc[0].to_dict()
    request = {
        "inputs": [
            {"name": i["name"], "datatype": i["datatype"], "shape": [1], "data": [row[i["name"]]]}
            for i in metadata["inputs"]
        ],
        "outputs": [{"name": o["name"]} for o in metadata["outputs"]],
    }
    predict, proba = served.ok("POST", "/v2/models/churn/infer", request)["outputs"]
    frame = pd.DataFrame([row])
    assert predict["data"] == model.predict(frame).tolist()
    assert proba["shape"] == [1, 2]
    assert np.allclose(proba["data"], model.predict_proba(frame).ravel(), rtol=1e-12, atol=1e-12)


def test_missing_values_reach_an_imputing_pipeline(served: Served) -> None:
    model = imputing_pipeline()
    served.publish("churn", model)
    asked = customers(12, seed=2, gaps=True)
    assert asked.isna().to_numpy().any()

    expected = model.predict(asked).tolist()
    for form, answer in every_form(served, "churn", asked).items():
        assert answer == expected, form


def test_pythons_nan_token_is_a_missing_value(served: Served) -> None:
    model = imputing_pipeline()
    served.publish("churn", model)
    row = customers(1, seed=3).iloc[0].to_dict()
    row["income"] = float("nan")

    raw = json.dumps({"instances": [row]})  # json.dumps writes the bare NaN token
    assert "NaN" in raw
    answer = served.ok("POST", "/v1/models/churn:predict", raw_body=raw)["predictions"]
    assert answer == model.predict(pd.DataFrame([row])).tolist()


def test_a_model_that_cannot_take_missing_values_says_so_in_a_400(served: Served) -> None:
    served.publish("churn", mixed_pipeline())
    row = records(customers(1, seed=3))[0] | {"income": None}

    status, answer = served.call("POST", "/v1/models/churn:predict", {"instances": [row]})

    assert status == 400
    assert answer["error"].startswith("the model rejected the input:") and "NaN" in answer["error"]


def test_hist_gradient_boosting_answers_rows_with_gaps(served: Served) -> None:
    train = customers(400, gaps=True)[NUMBERS]
    model = HistGradientBoostingClassifier(max_iter=20, random_state=0).fit(train, churned(customers(400, gaps=True)))
    served.publish("gaps", model)
    asked = customers(10, seed=4, gaps=True)[NUMBERS]

    expected = model.predict(asked).tolist()
    for form, answer in every_form(served, "gaps", asked).items():
        assert answer == expected, form
    # The same rows as a plain matrix, nulls and all, in the model's column order.
    matrix = [[None if math.isnan(v) else v for v in row] for row in asked.to_numpy().tolist()]
    body = {"inputs": [{"name": "x", "shape": [10, len(NUMBERS)], "datatype": "FP64", "data": matrix}]}
    assert served.ok("POST", "/v2/models/gaps/infer", body)["outputs"][0]["data"] == expected


def test_a_model_fitted_on_a_numeric_dataframe_takes_named_columns_and_plain_rows(served: Served) -> None:
    train = customers(300)[NUMBERS]
    model = RandomForestClassifier(n_estimators=10, max_depth=4, random_state=0).fit(train, churned(customers(300)))
    served.publish("numeric", model)
    asked = customers(6, seed=6)[NUMBERS]

    expected = model.predict(asked).tolist()
    for form, answer in every_form(served, "numeric", asked).items():
        assert answer == expected, form
    tensor = {"inputs": [{"name": "x", "shape": [6, 6], "datatype": "FP64", "data": asked.to_numpy().tolist()}]}
    assert served.ok("POST", "/v2/models/numeric/infer", tensor)["outputs"][0]["data"] == expected
    metadata = served.ok("GET", "/v2/models/numeric")
    assert [(i["name"], i["datatype"]) for i in metadata["inputs"]] == [(c, "FP64") for c in NUMBERS]
    assert metadata["platform"] == {"scikit-learn": "sklearn", "onnxruntime": "onnxruntime_onnx"}[served.runtime]


def test_a_pipeline_with_pandas_output_is_served(served: Served) -> None:
    model = mixed_pipeline(dense=True).set_output(transform="pandas")
    train = customers(400)
    model.fit(train, churned(train))
    served.publish("pandas-out", model)
    asked = customers(5, seed=7)

    expected = model.predict(asked).tolist()
    for form, answer in every_form(served, "pandas-out", asked).items():
        assert answer == expected, form
    platform = served.ok("GET", "/v2/models/pandas-out")["platform"]
    assert platform == {"scikit-learn": "sklearn", "onnxruntime": "onnxruntime_onnx"}[served.runtime]


def test_string_labels_come_back_as_strings(served: Served) -> None:
    train = customers(300)
    labels = np.where(churned(train) == 1, "leaves", "stays")
    model = Pipeline([("pre", mixed_pipeline().named_steps["preprocess"]), ("lr", LogisticRegression())]).fit(
        train, labels
    )
    served.publish("labels", model)
    asked = customers(8, seed=8)

    expected = model.predict(asked).tolist()
    assert set(expected) <= {"leaves", "stays"}
    for form, answer in every_form(served, "labels", asked).items():
        assert answer == expected, form
    assert served.ok("GET", "/v2/models/labels")["outputs"][0] == {
        "name": "predict",
        "datatype": "BYTES",
        "shape": [-1],
    }


def test_a_multi_output_regressor_answers_rows_of_targets_and_says_so(served: Served) -> None:
    train = customers(300)[NUMBERS]
    targets = np.column_stack([train["income"] / 1000, train["spend"], train["visits"] * 2])
    model = RandomForestRegressor(n_estimators=5, max_depth=4, random_state=0).fit(train, targets)
    served.publish("targets", model)
    asked = customers(4, seed=9)[NUMBERS]

    body = per_column(asked, content_type=True)
    output = served.ok("POST", "/v2/models/targets/infer", body)["outputs"][0]
    assert output["shape"] == [4, 3]
    assert np.allclose(output["data"], model.predict(asked).ravel(), rtol=1e-5)
    metadata = served.ok("GET", "/v2/models/targets")
    assert metadata["outputs"] == [{"name": "predict", "datatype": "FP64", "shape": [-1, 3]}]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda body: body["inputs"].pop(0), "missing column 'age'"),
        (lambda body: body["inputs"].append({**body["inputs"][0], "name": "colour"}), "unknown column 'colour'"),
        (lambda body: body["inputs"].append(dict(body["inputs"][1])), "column 'income' is sent twice"),
        (lambda body: body["inputs"][6].update(data=[1]), "column 'city' takes strings"),
        (lambda body: body["inputs"][0].update(data=["old"], datatype="BYTES"), "column 'age' takes numbers"),
        (lambda body: body["inputs"][1].update(shape=[2], data=[1.0, 2.0]), "column 'income' has 2 rows"),
    ],
)
def test_a_column_that_is_missing_unknown_doubled_or_mistyped_is_a_400_naming_it(
    served: Served, change: Any, message: str
) -> None:
    served.publish("churn", mixed_pipeline())
    body = per_column(customers(1, seed=10), content_type=True)
    change(body)

    status, answer = served.call("POST", "/v2/models/churn/infer", body)

    assert status == 400 and message in answer["error"], answer


@pytest.mark.parametrize(
    ("instances", "message"),
    [
        ([{"age": 30}], "missing column"),
        ([{**dict.fromkeys(COLUMNS, 1), "extra": 2}], "unknown column 'extra'"),
        ([[1, 2, 3]], "row 0 has 3 values"),
        (["Oslo"], "records"),
    ],
)
def test_v1_rows_that_do_not_fit_the_columns_are_a_400(served: Served, instances: Any, message: str) -> None:
    served.publish("churn", mixed_pipeline())
    status, answer = served.call("POST", "/v1/models/churn:predict", {"instances": instances})
    assert status == 400 and message in answer["error"], answer


def test_the_sample_sets_column_datatypes_and_is_the_serving_check(served: Served) -> None:
    model = mixed_pipeline()
    sample = records(customers(3, seed=11))
    sample[0]["age"] = 41  # JSON integers: the sample says these columns hold whole numbers
    for row in sample:
        row["age"] = int(row["age"])
    served.publish("churn", model, sample=sample)

    metadata = served.metadata_file("churn")
    assert metadata["validation"]["serving_check"]["checked_on"] == "churn.sample.json"
    assert metadata["signature"]["datatype_source"] == "sample"
    inputs = served.ok("GET", "/v2/models/churn")["inputs"]
    assert inputs[0] == {"name": "age", "datatype": "INT64", "shape": [-1], "parameters": {"content_type": "pd"}}


def test_rows_with_missing_values_on_the_fast_path_are_answered_by_scikit_learn(served: Served) -> None:
    """A per-column conversion is never fed missing values: such rows go to the model file, which decides."""
    model = mixed_pipeline()
    served.publish("churn", model)
    complete = customers(3, seed=12)
    with_gap = records(complete)
    with_gap[1]["city"] = None  # OneHotEncoder(handle_unknown="ignore") takes an unseen (missing) category

    served.ok("POST", "/v1/models/churn:predict", {"instances": records(complete)})
    cache = routes.service().cache
    before = cache.cached_bytes

    answer = served.ok("POST", "/v1/models/churn:predict", {"instances": with_gap})["predictions"]

    frame = complete.copy()
    frame.loc[1, "city"] = None
    assert answer == model.predict(frame).tolist()
    # The model behind the conversion is held in memory now: the cache's budget counts it (never less than its file).
    loaded = cache.loaded("churn", 1)
    assert loaded is not None
    if loaded.runner.runtime == "onnxruntime":
        model_file = served.loader.model_dir / "models" / "churn" / "1" / "model.joblib"
        assert cache.cached_bytes - before >= model_file.stat().st_size > 0
        assert cache.cached_bytes == loaded.size_bytes
    else:
        assert cache.cached_bytes == before


def test_a_table_of_strings_and_numbers_in_one_bytes_tensor_is_read_column_by_column(served: Served) -> None:
    model = mixed_pipeline()
    served.publish("churn", model)
    asked = customers(5, seed=8)
    as_text = [[str(value) for value in row] for row in asked[COLUMNS].itertuples(index=False)]
    as_json = [list(row) for row in asked[COLUMNS].astype(object).itertuples(index=False)]

    for data in (as_text, as_json):  # the numbers as text, or as JSON numbers beside the strings
        tensor = {"name": "table", "shape": [5, len(COLUMNS)], "datatype": "BYTES", "data": data}
        answer = served.ok("POST", "/v2/models/churn/infer", {"inputs": [tensor]})
        assert answer["outputs"][0]["data"] == model.predict(asked).tolist()

    as_text[3][COLUMNS.index("income")] = "lots"
    tensor = {"name": "table", "shape": [5, len(COLUMNS)], "datatype": "BYTES", "data": as_text}
    status, refused = served.call("POST", "/v2/models/churn/infer", {"inputs": [tensor]})
    assert status == 400 and "column 'income'" in refused["error"] and "row 3" in refused["error"]


def test_a_pipeline_fitted_on_an_object_array_serves_bytes_tensors_and_mixed_v1_rows(served: Served) -> None:
    positions = ColumnTransformer(
        [
            ("numbers", StandardScaler(), list(range(len(NUMBERS)))),
            ("strings", OneHotEncoder(handle_unknown="ignore"), list(range(len(NUMBERS), len(COLUMNS)))),
        ]
    )
    train = customers(300)
    model = make_pipeline(positions, LogisticRegression(max_iter=500)).fit(
        train[COLUMNS].to_numpy(dtype=object), churned(train)
    )
    assert served.publish("positions", model)["published"] == 1
    asked = customers(6, seed=9)[COLUMNS].to_numpy(dtype=object)
    expected = model.predict(asked).tolist()

    rows = [[value if isinstance(value, str) else float(value) for value in row] for row in asked]
    assert served.ok("POST", "/v1/models/positions:predict", {"instances": rows})["predictions"] == expected
    text = [[str(value) for value in row] for row in asked]
    tensor = {"name": "input-0", "shape": [6, len(COLUMNS)], "datatype": "BYTES", "data": text}
    answer = served.ok("POST", "/v2/models/positions/infer", {"inputs": [tensor]})
    assert answer["outputs"][0]["data"] == expected
    described = served.ok("GET", "/v2/models/positions")["inputs"]
    assert described == [{"name": "input-0", "datatype": "BYTES", "shape": [-1, len(COLUMNS)]}]
    text[0][0] = "old"
    tensor = {"name": "input-0", "shape": [6, len(COLUMNS)], "datatype": "BYTES", "data": text}
    status, refused = served.call("POST", "/v2/models/positions/infer", {"inputs": [tensor]})
    assert status == 400 and "column '0'" in refused["error"]
