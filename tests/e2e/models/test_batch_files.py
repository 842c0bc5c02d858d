"""Batch jobs on Parquet files, and on the model kinds the online tests cover beyond scikit-learn's own: an XGBoost
classifier and an MLflow directory. Models come from the real loader; each answer is compared with the model's own
``predict`` (pyfunc's for the MLflow directory) and with the online answer of the same version."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import xgboost
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression

from lambdas.batch.steps import JobFailed, plan
from tests.e2e.models import test_mlflow as mlflow_case
from tests.e2e.models.test_batch_job import DATA, FEATURES, csv_file, data_bucket, models, read, run_job
from tests.support.served import Served
from tests.support.tables import customers, imputing_pipeline, per_column, records

__all__ = ["data_bucket"]  # the fixture, shared with the CSV and JSON lines jobs

IRIS = load_iris()


def parquet_file(frame: pd.DataFrame, rows_per_group: int) -> bytes:
    out = io.BytesIO()
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), out, row_group_size=rows_per_group)
    return out.getvalue()


def read_parquet(s3: Any, key: str) -> pd.DataFrame:
    frame: pd.DataFrame = pq.read_table(io.BytesIO(read(s3, key))).to_pandas()
    return frame


def test_a_parquet_file_of_a_pipeline_with_gaps_is_answered_in_parquet_row_group_by_row_group(
    served: Served, data_bucket: Any
) -> None:
    pipeline = imputing_pipeline()
    frame = customers(200, seed=3, gaps=True)
    served.publish("churn", pipeline, sample=records(frame.head(5)))
    with_id = frame.assign(id=[f"c{number}" for number in range(len(frame))], day=pd.Timestamp("2026-12-01"))
    body = parquet_file(with_id, rows_per_group=25)
    data_bucket.put_object(Bucket=DATA, Key="input/churn/p.parquet", Body=body, Metadata={"join": "input"})

    job, manifest = run_job(data_bucket, "input/churn/p.parquet", chunk_bytes=1)

    assert job.ranges == [(group, group + 1) for group in range(8)]  # a worker per row group at this chunk size
    assert (manifest["status"], manifest["rows_in"], manifest["rows_out"]) == ("SUCCEEDED", 200, 200)
    answers = read_parquet(data_bucket, "output/churn/1/p.parquet.out")
    assert list(answers.columns) == [*with_id.columns, "predict"]
    pd.testing.assert_frame_equal(answers[list(with_id.columns)], with_id)  # the input carried unchanged
    assert answers["predict"].tolist() == pipeline.predict(frame).tolist()
    online = served.ok("POST", "/v2/models/churn/infer", per_column(frame, content_type=True))
    assert answers["predict"].tolist() == online["outputs"][0]["data"]


def test_parquet_probabilities_are_float_columns_and_refused_rows_are_null(served: Served, data_bucket: Any) -> None:
    model = LogisticRegression(max_iter=500).fit(IRIS.data, IRIS.target)
    served.publish("iris", model)
    frame = pd.DataFrame(IRIS.data[:40], columns=FEATURES).astype({"sepal_width": object})
    frame.loc[8, "sepal_width"] = "wide"  # a string column: every other row holds a number as text
    frame["sepal_width"] = frame["sepal_width"].map(str)
    metadata = {"outputs": "predict_proba", "tolerate-failed-percent": "50"}
    data_bucket.put_object(Bucket=DATA, Key="input/iris/p.parquet", Body=parquet_file(frame, 10), Metadata=metadata)

    _, manifest = run_job(data_bucket, "input/iris/p.parquet")

    # A column of strings is refused as a JSON column of strings is: every row fails its check.
    assert manifest["status"] == "FAILED" and "40 of 40 rows" in manifest["reason"]
    errors = [json.loads(line) for line in read(data_bucket, manifest["errors_key"]).splitlines()]
    assert [error["row"] for error in errors] == list(range(1, 41)) and "sepal_width" in errors[0]["reason"]

    numbers = pd.DataFrame(IRIS.data[:40], columns=FEATURES)
    numbers.loc[8, "sepal_width"] = np.inf  # a value no V2 request may send
    data_bucket.put_object(Bucket=DATA, Key="input/iris/p.parquet", Body=parquet_file(numbers, 10), Metadata=metadata)
    _, tolerated = run_job(data_bucket, "input/iris/p.parquet")
    assert (tolerated["status"], tolerated["rows_out"], tolerated["rows_failed"]) == ("SUCCEEDED", 39, 1)
    answers = read_parquet(data_bucket, "output/iris/1/p.parquet.out")
    assert list(answers.columns) == ["predict_proba_0", "predict_proba_1", "predict_proba_2"]
    assert all(dtype == np.float64 for dtype in answers.dtypes)
    assert answers.iloc[8].isna().all() and not answers.drop(index=8).isna().any().any()
    kept = np.delete(np.arange(40), 8)
    np.testing.assert_allclose(answers.drop(index=8), model.predict_proba(IRIS.data[kept]), atol=1e-6)


def test_a_file_named_parquet_that_is_not_fails_fast(served: Served, data_bucket: Any) -> None:
    served.publish("iris", LogisticRegression(max_iter=500).fit(IRIS.data, IRIS.target))
    data_bucket.put_object(Bucket=DATA, Key="input/iris/x.parquet", Body=csv_file(IRIS.data[:5]))

    with pytest.raises(JobFailed, match="not Parquet") as failed:
        plan(data_bucket, DATA, "input/iris/x.parquet", models)

    assert failed.value.manifest["status"] == "FAILED"


def test_an_empty_parquet_file_is_answered_with_an_empty_typed_file(served: Served, data_bucket: Any) -> None:
    served.publish("iris", LogisticRegression(max_iter=500).fit(IRIS.data, IRIS.target))
    empty = pd.DataFrame({name: pd.Series([], dtype=float) for name in FEATURES})
    data_bucket.put_object(Bucket=DATA, Key="input/iris/e.parquet", Body=parquet_file(empty, 10))

    _, manifest = run_job(data_bucket, "input/iris/e.parquet")

    assert (manifest["status"], manifest["rows_in"]) == ("SUCCEEDED", 0)
    answers = read_parquet(data_bucket, "output/iris/1/e.parquet.out")
    assert list(answers.columns) == ["predict"] and len(answers) == 0 and answers["predict"].dtype == np.int64


def test_an_xgboost_classifier_answers_a_csv_as_it_does_online(served: Served, data_bucket: Any) -> None:
    model = xgboost.XGBClassifier(n_estimators=20, max_depth=3, n_jobs=1).fit(IRIS.data, IRIS.target)
    served.publish("xgb", model, sample={"instances": IRIS.data[1::3].tolist()})
    data_bucket.put_object(Bucket=DATA, Key="input/xgb/rows.csv", Body=csv_file(IRIS.data))

    job, manifest = run_job(data_bucket, "input/xgb/rows.csv", chunk_bytes=2000)

    assert manifest["status"] == "SUCCEEDED" and manifest["runtime"] == job.runtime
    answers = [int(line) for line in read(data_bucket, "output/xgb/1/rows.csv.out").decode().splitlines()[1:]]
    assert answers == model.predict(IRIS.data).tolist()
    body = {"inputs": [{"name": "input-0", "shape": [150, 4], "datatype": "FP64", "data": IRIS.data.tolist()}]}
    assert answers == served.ok("POST", "/v2/models/xgb/infer", body)["outputs"][0]["data"]


def test_an_mlflow_directory_answers_a_csv_as_pyfunc_and_the_scoring_protocol_do(
    served: Served, data_bucket: Any, tmp_path: Path
) -> None:
    directory = mlflow_case.save(tmp_path / "model", mlflow_case.churn_pipeline())
    mlflow_case.upload(served, directory, "churn/1/")
    frame = mlflow_case.customers(120, seed=9)
    data_bucket.put_object(Bucket=DATA, Key="input/churn/m.csv", Body=mlflow_case.csv_body(frame).encode())

    _, manifest = run_job(data_bucket, "input/churn/m.csv", chunk_bytes=700)

    assert (manifest["status"], manifest["rows_out"]) == ("SUCCEEDED", 120)
    answers = [int(line) for line in read(data_bucket, "output/churn/1/m.csv.out").decode().splitlines()[1:]]
    expected = mlflow_case.pyfunc_answers(directory, frame)
    assert answers == expected
    body = mlflow_case.scoring_bodies(frame)["dataframe_split"]
    assert served.ok("POST", "/v2/models/churn/invocations", body) == {"predictions": answers}


def test_a_row_group_is_answered_a_batch_of_rows_at_a_time_in_order(
    served: Served, data_bucket: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from lambdas.batch import parquet

    model = LogisticRegression(max_iter=500).fit(IRIS.data, IRIS.target)
    served.publish("iris", model)
    numbers = pd.DataFrame(IRIS.data, columns=FEATURES)
    numbers.loc[100, "petal_width"] = np.inf  # refused, in the eighth batch of the second row group
    body = parquet_file(numbers, rows_per_group=75)
    metadata = {"tolerate-failed-percent": "1"}
    data_bucket.put_object(Bucket=DATA, Key="input/iris/g.parquet", Body=body, Metadata=metadata)
    monkeypatch.setattr(parquet, "BATCH_ROWS", 4)

    job, manifest = run_job(data_bucket, "input/iris/g.parquet", chunk_bytes=1 << 20)

    assert job.ranges == [(0, 2)] and (manifest["rows_in"], manifest["rows_failed"]) == (150, 1)
    (error,) = [json.loads(line) for line in read(data_bucket, manifest["errors_key"]).splitlines()]
    assert error["row"] == 101  # numbered from 1 across the file
    answers = read_parquet(data_bucket, "output/iris/1/g.parquet.out")["predict"]
    assert answers.isna().tolist() == [number == 100 for number in range(150)]
    assert answers.drop(index=100).astype(int).tolist() == model.predict(np.delete(IRIS.data, 100, axis=0)).tolist()
