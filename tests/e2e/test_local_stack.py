"""End to end on the local stack: `aws s3 cp` a model, predict over HTTP, `aws s3 rm` it, and it is gone."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import joblib
import numpy as np
import pytest
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression
from sklearn.tree import DecisionTreeClassifier

from local_stack.process import StackProcess, http_request, running_stack, wait_for_status
from local_stack.stack import REPO_ROOT

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

READY_SECONDS = 30.0
FLOWERS = [[5.1, 3.5, 1.4, 0.2], [5.9, 3.0, 4.2, 1.5], [6.7, 3.0, 5.2, 2.3]]


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StackProcess]:
    # A removed model is noticed at the next check of its file: check every second rather than every five.
    with running_stack(tmp_path_factory.mktemp("efs"), env={"MODEL_REFRESH_SECONDS": "1"}) as running:
        yield running
        # Ctrl-C stops it cleanly: exit code 0 and every thread joined (running_stack checks the code).
        running.process.send_signal(signal.SIGINT)
        running.process.wait(20)
        assert "Local stack stopped." in running.log_tail()


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    features, labels = load_iris(return_X_y=True)
    directory = tmp_path_factory.mktemp("models")
    logistic = LogisticRegression(max_iter=1000).fit(features, labels)
    tree = DecisionTreeClassifier(max_depth=2, random_state=0).fit(features, labels)
    joblib.dump(logistic, directory / "logistic.joblib")
    joblib.dump(tree, directory / "tree.joblib")
    return {"dir": directory, "logistic": logistic, "tree": tree}


def v2_request(rows: list[list[float]]) -> dict[str, Any]:
    return {"inputs": [{"name": "input-0", "shape": [len(rows), 4], "datatype": "FP64", "data": rows}]}


def predicted(answer: dict[str, Any]) -> list[Any]:
    outputs = {output["name"]: output for output in answer["outputs"]}
    return list(outputs["predict"]["data"])


def test_a_model_copied_with_the_aws_cli_answers_over_http(stack: StackProcess, models: dict[str, Any]) -> None:
    stack.aws("s3", "cp", str(models["dir"] / "logistic.joblib"), f"s3://{stack.bucket}/iris.joblib")
    wait_for_status(f"{stack.inference_url}/v2/models/iris/ready", 200, timeout=READY_SECONDS)

    answer = http_request("POST", f"{stack.inference_url}/v2/models/iris/infer", v2_request(FLOWERS))

    assert answer.status == 200, answer.body
    body = answer.json()
    assert body["model_name"] == "iris"
    assert str(body["model_version"]) == "1"
    assert predicted(body) == models["logistic"].predict(np.array(FLOWERS)).tolist()


def test_the_stack_asks_who_is_calling_as_a_default_deployment_does(stack: StackProcess) -> None:
    assert stack.authorization == "AWS_IAM"
    refused = http_request("GET", f"{stack.inference_url}/v2/health/ready", signed=False)
    assert (refused.status, refused.json()) == (403, {"message": "Forbidden"})
    assert http_request("GET", f"{stack.inference_url}/v2/health/ready").status == 200
    # The banner's commands are signed, with the stack's key pair.
    assert '--aws-sigv4 "aws:amz:us-east-1:execute-api" --user testing:testing' in stack.log_tail(200)


def test_a_versioned_key_is_served_as_that_version(stack: StackProcess, models: dict[str, Any]) -> None:
    stack.aws("s3", "cp", str(models["dir"] / "tree.joblib"), f"s3://{stack.bucket}/tree/3/model.joblib")
    wait_for_status(f"{stack.inference_url}/v2/models/tree/versions/3/ready", 200, timeout=READY_SECONDS)

    answer = http_request("POST", f"{stack.inference_url}/v2/models/tree/versions/3/infer", v2_request(FLOWERS))

    assert answer.status == 200, answer.body
    assert str(answer.json()["model_version"]) == "3"
    assert predicted(answer.json()) == models["tree"].predict(np.array(FLOWERS)).tolist()
    assert (stack.model_dir / "models" / "tree" / "3" / "model.joblib").is_file()


def test_a_model_removed_with_the_aws_cli_answers_404(stack: StackProcess, models: dict[str, Any]) -> None:
    stack.aws("s3", "cp", str(models["dir"] / "logistic.joblib"), f"s3://{stack.bucket}/short-lived.joblib")
    wait_for_status(f"{stack.inference_url}/v2/models/short-lived/ready", 200, timeout=READY_SECONDS)

    stack.aws("s3", "rm", f"s3://{stack.bucket}/short-lived.joblib")
    wait_for_status(f"{stack.inference_url}/v2/models/short-lived/ready", 404, timeout=READY_SECONDS)

    answer = http_request("POST", f"{stack.inference_url}/v2/models/short-lived/infer", v2_request(FLOWERS))
    assert answer.status == 404
    assert isinstance(answer.json()["error"], str)


def test_a_key_that_names_no_model_is_never_published(stack: StackProcess, models: dict[str, Any]) -> None:
    source = str(models["dir"] / "logistic.joblib")
    stack.aws("s3", "cp", source, f"s3://{stack.bucket}/bad name.joblib")
    stack.aws("s3", "cp", source, f"s3://{stack.bucket}/notes.txt")
    # A valid upload after the bad ones: once it is ready, the loader has seen the bad ones too.
    stack.aws("s3", "cp", source, f"s3://{stack.bucket}/after-bad.joblib")
    wait_for_status(f"{stack.inference_url}/v2/models/after-bad/ready", 200, timeout=READY_SECONDS)

    published = {path.name for path in (stack.model_dir / "models").iterdir()}
    assert "bad name" not in published
    assert "notes" not in published
    assert http_request("GET", f"{stack.inference_url}/v2/models/bad%20name/ready").status in (400, 404)


def test_the_demo_prints_predictions_of_every_model_and_exits_0() -> None:
    env = {**os.environ, "LOCAL_S3_PORT": "0", "LOCAL_HTTP_PORT": "0"}
    done = subprocess.run(
        [sys.executable, "-m", "local_stack.demo"],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )

    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert "/v2/models/iris/infer" in done.stdout
    assert "/v1/models/iris-forest:predict" in done.stdout
    assert done.stdout.count("species: setosa, versicolor, virginica") == 3
    assert "/v2/models/churn/infer" in done.stdout and "/v1/models/churn:predict" in done.stdout
    assert "as the pipeline and MLflow's pyfunc answer locally" in done.stdout
    assert "/v2/models/churn/invocations" in done.stdout
    assert "ready iris-forest version 2" in done.stdout and "curl -s --aws-sigv4" in done.stdout  # the command, signed
    assert "unsigned -> 403" in done.stdout
    assert "Demo finished in" in done.stdout
