"""A batch job from an object in the data bucket to its answers beside it: planned, its ranges scored (in any order,
one of them twice, as a retried worker would), assembled. Models come from the real loader and are answered by the
inference function's own cache; every answer is compared with the model's ``predict`` and the online V2 answer."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

import numpy as np
import pytest
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression

from lambdas.batch.steps import JobFailed, Plan, assemble, plan, score
from tests.support.context import loader_context
from tests.support.served import Served
from tests.support.tables import customers, imputing_pipeline, per_column, records

DATA = "data"
IRIS = load_iris()
FEATURES = ["sepal_length", "sepal_width", "petal_length", "petal_width"]


@pytest.fixture
def data_bucket(served: Served) -> Any:
    s3 = served.loader.s3
    s3.create_bucket(Bucket=DATA)
    s3.put_bucket_versioning(Bucket=DATA, VersioningConfiguration={"Status": "Enabled"})
    return s3


def models(name: str, version: int | None) -> Any:
    from lambdas.inference import routes

    return routes.service().cache.get(name, version)


def run_job(s3: Any, key: str, *, chunk_bytes: int = 300, retry: int | None = 0) -> tuple[Plan, dict[str, Any]]:
    job = plan(s3, DATA, key, models, chunk_bytes=chunk_bytes)
    for index in reversed(range(len(job.ranges))):  # workers finish in any order
        score(s3, job, index, models)
    if retry is not None and job.ranges:
        score(s3, job, retry, models)  # a worker retried after writing its part
    return job, assemble(s3, job)


def read(s3: Any, key: str) -> bytes:
    body: bytes = s3.get_object(Bucket=DATA, Key=key)["Body"].read()
    return body


def csv_file(rows: np.ndarray, ids: bool = False) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([*(["id"] if ids else []), *FEATURES])
    for number, row in enumerate(rows):
        writer.writerow([*([f"c{number}"] if ids else []), *(repr(float(value)) for value in row)])
    return out.getvalue().encode()


def test_a_csv_is_answered_row_for_row_as_the_model_and_the_online_api(served: Served, data_bucket: Any) -> None:
    model = LogisticRegression(max_iter=500).fit(IRIS.data, IRIS.target)
    served.publish("iris", model)
    data_bucket.put_object(Bucket=DATA, Key="input/iris/rows.csv", Body=csv_file(IRIS.data))

    job, manifest = run_job(data_bucket, "input/iris/rows.csv")

    assert len(job.ranges) > 5  # many workers, each on its own byte range
    assert manifest["status"] == "SUCCEEDED"
    assert (manifest["rows_in"], manifest["rows_out"], manifest["rows_failed"]) == (150, 150, 0)
    assert (manifest["model"], manifest["version"], manifest["runtime"]) == ("iris", "1", job.runtime)
    lines = read(data_bucket, "output/iris/1/rows.csv.out").decode().splitlines()
    assert lines[0] == "predict"
    answers = [int(line) for line in lines[1:]]
    assert answers == model.predict(IRIS.data).tolist()
    body = {"inputs": [{"name": "input-0", "shape": [150, 4], "datatype": "FP64", "data": IRIS.data.tolist()}]}
    assert answers == served.ok("POST", "/v2/models/iris/infer", body)["outputs"][0]["data"]
    manifest_file = json.loads(read(data_bucket, "output/iris/1/rows.csv.manifest.json"))
    assert manifest_file["input_version_id"] == job.input_version_id is not None
    listed = data_bucket.list_objects_v2(Bucket=DATA, Prefix="output/iris/1/")["Contents"]
    assert sorted(item["Key"] for item in listed) == [
        "output/iris/1/rows.csv.manifest.json",
        "output/iris/1/rows.csv.out",
    ]


def test_join_carries_the_input_and_probabilities_are_a_column_per_class(served: Served, data_bucket: Any) -> None:
    model = LogisticRegression(max_iter=500).fit(IRIS.data, IRIS.target)
    served.publish("iris", model)
    rows = IRIS.data[::5]
    metadata = {"outputs": "predict_proba", "join": "input"}
    data_bucket.put_object(Bucket=DATA, Key="input/iris/1/j.csv", Body=csv_file(rows), Metadata=metadata)

    run_job(data_bucket, "input/iris/1/j.csv")

    table = list(csv.reader(io.StringIO(read(data_bucket, "output/iris/1/j.csv.out").decode())))
    assert table[0] == [*FEATURES, "predict_proba_0", "predict_proba_1", "predict_proba_2"]
    np.testing.assert_allclose(np.array(table[1:], dtype=float)[:, :4], rows)
    np.testing.assert_allclose(np.array(table[1:], dtype=float)[:, 4:], model.predict_proba(rows), atol=1e-6)


def test_json_lines_of_a_pipeline_with_gaps_keep_their_id(served: Served, data_bucket: Any) -> None:
    pipeline = imputing_pipeline()
    frame = customers(60, seed=5, gaps=True)
    served.publish("churn", pipeline, sample=records(frame.head(5)))
    lines = [json.dumps({"id": number, **record}) for number, record in enumerate(records(frame))]
    body = ("\n".join(lines) + "\n").encode()
    data_bucket.put_object(Bucket=DATA, Key="input/churn/c.jsonl", Body=body, Metadata={"join": "input"})

    _, manifest = run_job(data_bucket, "input/churn/c.jsonl", chunk_bytes=2000)

    answers = [json.loads(line) for line in read(data_bucket, "output/churn/1/c.jsonl.out").splitlines()]
    assert [answer["id"] for answer in answers] == list(range(60))
    assert [answer["predict"] for answer in answers] == pipeline.predict(frame).tolist()
    online = served.ok("POST", "/v2/models/churn/infer", per_column(frame, content_type=True))
    assert [answer["predict"] for answer in answers] == online["outputs"][0]["data"]
    assert manifest["rows_out"] == 60


def test_refused_rows_are_listed_and_over_the_tolerance_the_job_fails_without_answers(
    served: Served, data_bucket: Any
) -> None:
    served.publish("iris", LogisticRegression(max_iter=500).fit(IRIS.data, IRIS.target))
    text = csv_file(IRIS.data[:40]).decode().splitlines()
    text[8] = "5.1,wide,1.4,0.2"  # row 8 of the file (its line 9)
    body = ("\n".join(text) + "\n").encode()
    data_bucket.put_object(Bucket=DATA, Key="input/iris/bad.csv", Body=body)

    _, manifest = run_job(data_bucket, "input/iris/bad.csv")

    assert manifest["status"] == "FAILED" and "1 of 40 rows" in manifest["reason"]
    assert "out_key" not in manifest
    with pytest.raises(data_bucket.exceptions.NoSuchKey):
        read(data_bucket, "output/iris/1/bad.csv.out")
    (error,) = [json.loads(line) for line in read(data_bucket, manifest["errors_key"]).splitlines()]
    assert error["row"] == 8 and "sepal_width" in error["reason"]

    data_bucket.put_object(Bucket=DATA, Key="input/iris/bad.csv", Body=body, Metadata={"tolerate-failed-percent": "5"})
    _, tolerated = run_job(data_bucket, "input/iris/bad.csv")
    assert tolerated["status"] == "SUCCEEDED" and tolerated["rows_out"] == 39
    answers = read(data_bucket, "output/iris/1/bad.csv.out").decode().splitlines()
    assert len(answers) == 41 and answers[8] == '""'  # one line per input row; the refused one's field is empty


@pytest.mark.parametrize(
    ("key", "body", "reason"),
    [
        ("input/nobody/rows.csv", b"a\n1\n", "nobody"),
        ("input/iris/rows.csv", b"sepal_length,sepal_width\n1,2\n", "takes 4 features"),
        ("input/iris/rows.txt", b"1,2,3,4\n", "not one of the formats"),
    ],
)
def test_a_job_that_cannot_run_fails_fast_with_a_manifest(
    served: Served, data_bucket: Any, key: str, body: bytes, reason: str
) -> None:
    served.publish("iris", LogisticRegression(max_iter=500).fit(IRIS.data, IRIS.target))
    data_bucket.put_object(Bucket=DATA, Key=key, Body=body)

    with pytest.raises(JobFailed, match=reason) as failed:
        plan(data_bucket, DATA, key, models)

    assert failed.value.manifest["status"] == "FAILED"


def test_a_job_keeps_its_version_and_input_when_both_change_under_it(served: Served, data_bucket: Any) -> None:
    first = LogisticRegression(max_iter=500).fit(IRIS.data, IRIS.target)
    served.publish("iris", first, version=1)
    data_bucket.put_object(Bucket=DATA, Key="input/iris/r.csv", Body=csv_file(IRIS.data[:30]))
    job = plan(data_bucket, DATA, "input/iris/r.csv", models, chunk_bytes=400)
    # While it runs: a new latest version, and the input uploaded again with other rows.
    served.publish("iris", LogisticRegression(max_iter=500, C=0.001).fit(IRIS.data, IRIS.target), version=2)
    data_bucket.put_object(Bucket=DATA, Key="input/iris/r.csv", Body=csv_file(IRIS.data[100:110]))
    for index in range(len(job.ranges)):
        score(data_bucket, job, index, models)

    manifest = assemble(data_bucket, job)

    assert manifest["version"] == "1" and manifest["rows_in"] == 30
    answers = [int(line) for line in read(data_bucket, "output/iris/1/r.csv.out").decode().splitlines()[1:]]
    assert answers == first.predict(IRIS.data[:30]).tolist()


def test_the_worker_function_runs_a_job_step_by_step(
    served: Served, data_bucket: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from lambdas.batch import handler

    model = LogisticRegression(max_iter=500).fit(IRIS.data, IRIS.target)
    served.publish("iris", model)
    monkeypatch.setenv("MODEL_DIR", str(served.loader.model_dir))
    monkeypatch.setenv("ONNX_FAST_PATH", "true" if served.runtime == "onnxruntime" else "false")
    for cached in (handler.settings, handler.models, handler.s3_client):
        cached.cache_clear()
    data_bucket.put_object(Bucket=DATA, Key="input/iris/w.csv", Body=csv_file(IRIS.data[:50]))
    event = {"detail": {"bucket": {"name": DATA}, "object": {"key": "input/iris/w.csv"}}}
    context: Any = loader_context()  # the handler reads the same fields of it

    planned = handler.lambda_handler({"step": "plan", **event, "execution": "arn:job"}, context)
    batch = {"BatchInput": {"step": "score", "plan": planned["plan"]}, "Items": planned["items"]}  # as the Map sends it
    assert [c["rows_in"] for c in handler.lambda_handler(batch, context)["scored"]] == [50]
    manifest = handler.lambda_handler({"step": "assemble", "plan": planned["plan"], "execution": "arn:job"}, context)

    assert (manifest["status"], manifest["execution_arn"], manifest["runtime"]) == (
        "SUCCEEDED",
        "arn:job",
        served.runtime,
    )
    answers = [int(line) for line in read(data_bucket, "output/iris/1/w.csv.out").decode().splitlines()[1:]]
    assert answers == model.predict(IRIS.data[:50]).tolist()
    refused = handler.lambda_handler({"step": "plan", "bucket": DATA, "key": "input/iris/gone.csv"}, context)
    assert refused["failed"]["status"] == "FAILED" and "no longer" in refused["failed"]["reason"]


def test_a_range_read_in_many_blocks_numbers_its_rows_across_them(
    served: Served, data_bucket: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from lambdas.batch import steps

    model = LogisticRegression(max_iter=500).fit(IRIS.data, IRIS.target)
    served.publish("iris", model)
    text = csv_file(IRIS.data[:60]).decode().splitlines()
    text[31] = "5.1,wide,1.4,0.2"  # row 31 of the file, in a later block of the one range
    body = ("\n".join(text) + "\n").encode()
    data_bucket.put_object(Bucket=DATA, Key="input/iris/b.csv", Body=body, Metadata={"tolerate-failed-percent": "5"})
    monkeypatch.setattr(steps, "BLOCK_BYTES", 100)  # a few lines a block

    job, manifest = run_job(data_bucket, "input/iris/b.csv", chunk_bytes=len(body))

    assert len(job.ranges) == 1 and manifest["rows_failed"] == 1
    (error,) = [json.loads(line) for line in read(data_bucket, manifest["errors_key"]).splitlines()]
    assert error["row"] == 31
    answers = read(data_bucket, "output/iris/1/b.csv.out").decode().splitlines()[1:]
    assert answers[30] == '""'
    kept = [int(line) for number, line in enumerate(answers) if number != 30]
    assert kept == model.predict(np.delete(IRIS.data[:60], 30, axis=0)).tolist()
