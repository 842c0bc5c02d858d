"""Operating a served model on the local stack as a user does: `serverless-sklearn traffic`, `capture`, `rollback`
and `status`, the loader publishing or refusing the settings they write, and captured records arriving in the data
bucket under capture/MODEL/VERSION/yyyy/mm/dd/hh/ in SageMaker's record format."""

from __future__ import annotations

import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pytest
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression
from sklearn.tree import DecisionTreeClassifier

from local_stack.process import StackProcess, http_request, running_stack, wait_for_status
from tests.support.serving import read_record

pytestmark = [pytest.mark.e2e, pytest.mark.slow]
COMMAND = [str(Path(sys.executable).with_name("serverless-sklearn"))]
IRIS = load_iris()
ROWS = IRIS.data[[0, 50, 100, 120]].tolist()
# Bounds on polling loops: counts of attempts, far above what a run needs.
POLLS = 300


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StackProcess]:
    with running_stack(tmp_path_factory.mktemp("efs"), env={"MODEL_REFRESH_SECONDS": "0.5"}) as running:
        yield running


@pytest.fixture(scope="module")
def versions(stack: StackProcess, tmp_path_factory: pytest.TempPathFactory) -> dict[int, Any]:
    """iris versions 1 (logistic) and 2 (a depth-1 tree, which disagrees on some flowers), published."""
    directory = tmp_path_factory.mktemp("models")
    models = {
        1: LogisticRegression(max_iter=500).fit(IRIS.data, IRIS.target),
        2: DecisionTreeClassifier(max_depth=1, random_state=0).fit(IRIS.data, IRIS.target),
    }
    for version, model in models.items():
        joblib.dump(model, directory / f"{version}.joblib")
        stack.aws("s3", "cp", str(directory / f"{version}.joblib"), f"s3://{stack.bucket}/iris/{version}/model.joblib")
        wait_for_status(f"{stack.inference_url}/v2/models/iris/versions/{version}/ready", 200, timeout=60)
    return models


def run(stack: StackProcess, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **stack.aws_env(),
        "SERVERLESS_SKLEARN_BUCKET": stack.bucket,
        "SERVERLESS_SKLEARN_URL": stack.inference_url.rstrip("/"),
        "COLUMNS": "200",
    }
    return subprocess.run([*COMMAND, *args], env=env, capture_output=True, text=True, timeout=120, check=False)


def infer(stack: StackProcess, rows: list[list[float]] = ROWS, **headers: str) -> tuple[str, list[int]]:
    body = {"inputs": [{"name": "input-0", "shape": [len(rows), 4], "datatype": "FP64", "data": rows}]}
    fields = {name.replace("_", "-"): value for name, value in headers.items()}
    answer = http_request("POST", f"{stack.inference_url}/v2/models/iris/infer", body, headers=fields)
    assert answer.status == 200, answer.body
    version = answer.headers["x-model-version"]
    assert answer.json()["model_version"] == version
    return version, answer.json()["outputs"][0]["data"]


def captured(stack: StackProcess, version: int, *, at_least: int) -> list[Any]:
    """The records delivered under capture/iris/VERSION/, once there are ``at_least`` of them."""
    s3 = stack.s3_client()
    records: list[Any] = []
    for _ in range(POLLS):
        records = []
        for page in s3.get_paginator("list_objects_v2").paginate(
            Bucket=stack.data_bucket, Prefix=f"capture/iris/{version}/"
        ):
            for item in page.get("Contents", ()):
                body = s3.get_object(Bucket=stack.data_bucket, Key=item["Key"])["Body"].read()
                records.extend((item["Key"], read_record(line)) for line in body.splitlines() if line)
        if len(records) >= at_least:
            return records
        time.sleep(0.1)
    raise AssertionError(f"{len(records)} records of version {version} arrived, not {at_least}")


def test_traffic_splits_and_rollback_returns_all_of_it(stack: StackProcess, versions: dict[int, Any]) -> None:
    pinned = run(stack, "traffic", "iris", "1=100")
    assert pinned.returncode == 0, pinned.stderr
    split = run(stack, "traffic", "iris", "1=50", "2=50")
    assert split.returncode == 0, split.stderr
    assert "v1 50%, v2 50%" in split.stdout and "rollback goes to v1" in split.stdout

    seen = Counter(infer(stack, x_route_key=f"caller-{n}")[0] for n in range(60))
    assert set(seen) == {"1", "2"}
    for key in ("caller-1", "caller-2"):  # one caller keeps meeting one version
        assert len({infer(stack, x_route_key=key)[0] for _ in range(5)}) == 1

    back = run(stack, "rollback", "iris")
    assert back.returncode == 0, back.stderr
    assert "v1 100%" in back.stdout
    for _ in range(20):
        version, labels = infer(stack)
        assert version == "1"
        assert labels == versions[1].predict(np.array(ROWS)).tolist()


def test_settings_naming_a_missing_version_are_refused_and_the_old_ones_serve(
    stack: StackProcess, versions: dict[int, Any]
) -> None:
    assert run(stack, "traffic", "iris", "2=100").returncode == 0

    refused = run(stack, "traffic", "iris", "2=90", "9=10")

    assert refused.returncode != 0
    assert "version(s) 9" in refused.stderr and "previous settings keep serving" in refused.stderr
    index = http_request("POST", f"{stack.inference_url}/v2/repository/index", {}).json()
    assert any(e["version"] == "serving.json" and e["state"] == "UNAVAILABLE" for e in index)
    assert {infer(stack)[0] for _ in range(10)} == {"2"}


def test_captured_requests_and_shadow_answers_arrive_in_the_data_bucket(
    stack: StackProcess, versions: dict[int, Any]
) -> None:
    assert run(stack, "traffic", "iris", "1=100", "--shadow", "2", "--shadow-percent", "100").returncode == 0
    assert run(stack, "capture", "iris", "100").returncode == 0
    before = {version: len(captured(stack, version, at_least=0)) for version in (1, 2)}

    answers = [infer(stack, x_inference_id=f"order-{n}") for n in range(25)]

    assert {version for version, _ in answers} == {"1"}  # the shadow is never returned
    assert all(labels == versions[1].predict(np.array(ROWS)).tolist() for _, labels in answers)
    served = captured(stack, 1, at_least=before[1] + 25)[before[1] :]
    shadowed = captured(stack, 2, at_least=before[2] + 25)[before[2] :]
    for key, record in served:
        assert key.startswith("capture/iris/1/") and key.count("/") == 7  # capture/iris/1/yyyy/mm/dd/hh/object
        assert not record.shadow and record.inference_id is not None
        assert record.endpoint_output.json()["outputs"][0]["data"] == versions[1].predict(np.array(ROWS)).tolist()
    assert {record.inference_id for _, record in served} == {f"order-{n}" for n in range(25)}
    for _, record in shadowed:
        assert record.shadow
        assert record.endpoint_output.json()["outputs"][0]["data"] == versions[2].predict(np.array(ROWS)).tolist()

    status = run(stack, "status", "iris")
    assert status.returncode == 0, status.stderr
    assert "shadow v2 on 100%" in status.stdout and "capture 100%" in status.stdout
    cells = [line.replace("│", " ").split() for line in status.stdout.splitlines()]
    rows = {row[0]: row for row in cells if row[:1] in (["1"], ["2"])}
    assert set(rows) == {"1", "2"}, status.stdout
    assert int(rows["1"][1].replace(",", "")) >= 25  # version 1's requests
    disagreed = versions[1].predict(np.array(ROWS)).tolist() != versions[2].predict(np.array(ROWS)).tolist()
    shadow_counts = [int(value) for value in rows["2"][-3:]]  # agree, disagree, failed
    assert shadow_counts[1 if disagreed else 0] >= 25


def test_settings_changed_under_load_never_fail_a_request(stack: StackProcess, versions: dict[int, Any]) -> None:
    import threading

    statuses: Counter[int] = Counter()
    seen: Counter[str] = Counter()
    stop = threading.Event()
    lock = threading.Lock()
    body = {"inputs": [{"name": "input-0", "shape": [len(ROWS), 4], "datatype": "FP64", "data": ROWS}]}

    def client() -> None:
        for _ in range(20_000):  # until the settings changes below are done; the count only guards against a hang
            if stop.is_set():
                return
            answer = http_request("POST", f"{stack.inference_url}/v2/models/iris/infer", body)
            with lock:
                statuses[answer.status] += 1
                seen[answer.headers.get("x-model-version", "")] += 1

    clients = [threading.Thread(target=client, daemon=True) for _ in range(3)]
    for thread in clients:
        thread.start()
    try:
        for weights in (["1=100"], ["1=50", "2=50"], ["2=100"], ["1=90", "2=10"]):
            done = run(stack, "traffic", "iris", *weights, "--no-shadow")
            assert done.returncode == 0, done.stderr
    finally:
        stop.set()
        for thread in clients:
            thread.join(120)

    assert set(statuses) == {200}, statuses
    assert set(seen) == {"1", "2"}
