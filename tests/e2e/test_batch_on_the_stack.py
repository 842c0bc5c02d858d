"""A batch job on the local stack as a user starts one: `aws s3 cp rows.csv s3://data/input/iris/rows.csv`, then the
answers, the manifest and the refused rows appear under output/, each answer the model's own `predict`."""

from __future__ import annotations

import csv
import io
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pytest
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression

from local_stack.process import StackProcess, running_stack, wait_for_status

pytestmark = [pytest.mark.e2e, pytest.mark.slow]
IRIS = load_iris()
POLLS = 600


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StackProcess]:
    with running_stack(tmp_path_factory.mktemp("efs")) as running:
        yield running


def manifest(stack: StackProcess, key: str) -> dict[str, Any]:
    s3 = stack.s3_client()
    for _ in range(POLLS):  # bounded by count: a job here takes a few seconds
        try:
            found: dict[str, Any] = json.loads(s3.get_object(Bucket=stack.data_bucket, Key=key)["Body"].read())
            return found
        except s3.exceptions.NoSuchKey:
            time.sleep(0.2)
    raise AssertionError(f"no {key} after {POLLS} polls")


def test_a_csv_copied_under_input_is_answered_beside_it(stack: StackProcess, tmp_path: Path) -> None:
    model = LogisticRegression(max_iter=500).fit(IRIS.data, IRIS.target)
    joblib.dump(model, tmp_path / "iris.joblib")
    stack.aws("s3", "cp", str(tmp_path / "iris.joblib"), f"s3://{stack.bucket}/iris.joblib")
    wait_for_status(f"{stack.inference_url}/v2/models/iris/ready", 200, timeout=60)
    rows = np.tile(IRIS.data, (40, 1))  # 6,000 rows: several byte ranges, on two workers
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(["sepal_length", "sepal_width", "petal_length", "petal_width"])
    writer.writerows(rows.tolist())
    (tmp_path / "rows.csv").write_text(text.getvalue())

    stack.aws("s3", "cp", str(tmp_path / "rows.csv"), f"s3://{stack.data_bucket}/input/iris/rows.csv")

    done = manifest(stack, "output/iris/1/rows.csv.manifest.json")
    assert done["status"] == "SUCCEEDED", done
    assert (done["rows_in"], done["rows_out"], done["version"]) == (6000, 6000, "1")
    body = stack.s3_client().get_object(Bucket=stack.data_bucket, Key="output/iris/1/rows.csv.out")["Body"].read()
    answers = [int(line) for line in body.decode().splitlines()[1:]]
    assert answers == model.predict(rows).tolist()


def run(stack: StackProcess, *args: str) -> Any:
    import subprocess
    import sys

    command = [str(Path(sys.executable).with_name("serverless-sklearn")), *args]
    env = {**stack.aws_env(), "SERVERLESS_SKLEARN_DATA_BUCKET": stack.data_bucket, "COLUMNS": "200"}
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=300, check=False)


def test_the_command_uploads_waits_prints_the_manifest_and_downloads(stack: StackProcess, tmp_path: Path) -> None:
    model = LogisticRegression(max_iter=500, C=0.5).fit(IRIS.data, IRIS.target)
    joblib.dump(model, tmp_path / "iris.joblib")
    stack.aws("s3", "cp", str(tmp_path / "iris.joblib"), f"s3://{stack.bucket}/iris/2/model.joblib")
    wait_for_status(f"{stack.inference_url}/v2/models/iris/versions/2/ready", 200, timeout=60)
    lines = ["sepal_length,sepal_width,petal_length,petal_width", *(",".join(map(str, row)) for row in IRIS.data)]
    (tmp_path / "flowers.csv").write_text("\n".join(lines) + "\n")

    done = run(
        stack, "batch", "iris/2", str(tmp_path / "flowers.csv"), "--proba", "--download", str(tmp_path / "a.csv")
    )

    assert done.returncode == 0, done.stdout + done.stderr
    printed = json.loads(done.stdout[done.stdout.index("{") : done.stdout.rindex("}") + 1])
    assert (printed["status"], printed["version"], printed["rows_out"]) == ("SUCCEEDED", "2", 150)
    table = list(csv.reader((tmp_path / "a.csv").open()))
    assert table[0] == ["predict_proba_0", "predict_proba_1", "predict_proba_2"]
    np.testing.assert_allclose(np.array(table[1:], dtype=float), model.predict_proba(IRIS.data), atol=1e-6)

    (tmp_path / "bad.csv").write_text("sepal_length,sepal_width\n1,2\n")
    refused = run(stack, "batch", "iris/2", str(tmp_path / "bad.csv"))
    assert refused.returncode != 0 and "takes 4 features" in refused.stdout + refused.stderr


def test_a_worker_that_dies_mid_batch_is_retried_without_a_row_doubled_or_lost(tmp_path: Path) -> None:
    marker = tmp_path / "died"
    env = {
        "LOCAL_BATCH_HANDLER": "tests.support.dying_batch.lambda_handler",
        "DIE_ONCE_MARKER": str(marker),
        "BATCH_CHUNK_BYTES": "2000",  # many small ranges, four to a batch
    }
    model = LogisticRegression(max_iter=500).fit(IRIS.data, IRIS.target)
    joblib.dump(model, tmp_path / "iris.joblib")
    rows = np.tile(IRIS.data, (4, 1))
    lines = ["sepal_length,sepal_width,petal_length,petal_width", *(",".join(map(str, row)) for row in rows)]
    (tmp_path / "rows.csv").write_text("\n".join(lines) + "\n")
    with running_stack(tmp_path / "efs", env=env) as dying:
        dying.aws("s3", "cp", str(tmp_path / "iris.joblib"), f"s3://{dying.bucket}/iris.joblib")
        wait_for_status(f"{dying.inference_url}/v2/models/iris/ready", 200, timeout=60)

        dying.aws("s3", "cp", str(tmp_path / "rows.csv"), f"s3://{dying.data_bucket}/input/iris/rows.csv")

        done = manifest(dying, "output/iris/1/rows.csv.manifest.json")
        body = dying.s3_client().get_object(Bucket=dying.data_bucket, Key="output/iris/1/rows.csv.out")["Body"].read()
    assert marker.exists()  # a worker died after writing a part, and its batch was scored again
    assert done["status"] == "SUCCEEDED" and (done["rows_in"], done["rows_out"]) == (600, 600)
    assert [int(line) for line in body.decode().splitlines()[1:]] == model.predict(rows).tolist()
