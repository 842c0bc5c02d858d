"""The ``serverless-sklearn`` command as a user runs it against ``make serve``'s stack: publish (local checks, upload,
wait, a curl that works), the loader's verdict on a refusal, models, predict and delete."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import joblib
import mlflow.sklearn
import numpy as np
import pandas as pd
import pytest
import sklearn
from mlflow.models import infer_signature
from sklearn.compose import make_column_transformer
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from local_stack.process import StackProcess, running_stack

pytestmark = [pytest.mark.e2e, pytest.mark.slow]
# The console script the project's package installs beside this interpreter.
COMMAND = [str(Path(sys.executable).with_name("serverless-sklearn"))]
IRIS = load_iris()
TRUSTED = {"SKOPS_TRUSTED_TYPES": "numpy.dtype"}


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StackProcess]:
    # The policy that refuses a model saved by another scikit-learn minor version: a refusal only the loader gives;
    # and the skops type the MLflow test's pipeline needs, trusted by the operator, as the command trusts it too.
    env = {"MODEL_VERSION_POLICY": "reject", **TRUSTED}
    with running_stack(tmp_path_factory.mktemp("efs"), env=env) as running:
        yield running


def run(stack: StackProcess, *args: str, timeout: float = 180.0) -> subprocess.CompletedProcess[str]:
    env = {
        **stack.aws_env(),
        "SERVERLESS_SKLEARN_BUCKET": stack.bucket,
        "SERVERLESS_SKLEARN_URL": stack.inference_url.rstrip("/"),
        "COLUMNS": "200",
        **TRUSTED,
    }
    env.pop("SERVERLESS_SKLEARN_PREFIX", None)
    return subprocess.run([*COMMAND, *args], env=env, capture_output=True, text=True, timeout=timeout, check=False)


def test_publish_checks_uploads_waits_and_prints_a_curl_that_answers_as_the_model(
    stack: StackProcess, tmp_path: Path
) -> None:
    model = LogisticRegression(max_iter=500).fit(IRIS.data, IRIS.target)
    joblib.dump(model, tmp_path / "iris.joblib")
    (tmp_path / "sample.json").write_text(json.dumps({"instances": IRIS.data[[100, 0]].tolist()}))

    done = run(
        stack, "publish", str(tmp_path / "iris.joblib"), "--name", "iris", "--sample", str(tmp_path / "sample.json")
    )

    assert done.returncode == 0, done.stdout + done.stderr
    assert "takes 4 FP64 features" in done.stdout
    assert "ready iris version 1" in done.stdout
    metadata = json.loads((stack.model_dir / "models" / "iris" / "1" / "metadata.json").read_text())
    assert metadata["validation"]["serving_check"]["checked_on"] == "sample.json"  # uploaded before the model
    curl = next(line for line in done.stdout.splitlines() if line.startswith("curl "))
    assert '--aws-sigv4 "aws:amz:us-east-1:execute-api"' in curl  # signed, as the stack asks
    # Pasted into a shell that holds the credentials, as the user would.
    answered = subprocess.run(
        ["bash", "-c", curl], env=stack.aws_env(), capture_output=True, text=True, timeout=30, check=True
    )
    outputs = json.loads(answered.stdout)["outputs"]
    assert outputs[0]["data"] == model.predict(IRIS.data[[100]]).tolist()

    again = run(stack, "publish", str(tmp_path / "iris.joblib"), "--name", "iris")
    assert again.returncode == 0, again.stderr
    assert "ready iris version 2" in again.stdout


def test_a_model_the_loader_refuses_prints_its_verdict_and_exits_non_zero(stack: StackProcess, tmp_path: Path) -> None:
    model = LogisticRegression(max_iter=500).fit(IRIS.data, IRIS.target)
    buffer = io.BytesIO()
    joblib.dump(model, buffer)
    current = sklearn.__version__.encode()
    older = b"1.6.1"
    assert len(current) == len(older)
    (tmp_path / "old.joblib").write_bytes(buffer.getvalue().replace(current, older))

    done = run(stack, "publish", str(tmp_path / "old.joblib"), "--name", "old", "--timeout", "60")

    assert done.returncode == 1
    assert "saved with scikit-learn 1.6.1" in done.stderr  # the local check's warning
    assert "the loader refused old version 1" in done.stderr
    assert "MODEL_VERSION_POLICY=reject" in done.stderr
    assert "Traceback" not in done.stderr
    listed = run(stack, "models")
    assert "UNAVAILABLE" in listed.stdout and "old" in listed.stdout


def test_an_mlflow_directory_publishes_and_predict_sends_json_and_csv(stack: StackProcess, tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"age": rng.uniform(18, 80, 200), "plan": rng.choice(["basic", "pro"], 200)})
    labels = (frame["age"] > 40).astype(int)
    preprocess = make_column_transformer((StandardScaler(), ["age"]), (OneHotEncoder(), ["plan"]))
    pipeline = make_pipeline(preprocess, LogisticRegression()).fit(frame, labels)
    example = frame.head(3)
    mlflow.sklearn.save_model(
        pipeline,
        tmp_path / "churn",
        signature=infer_signature(example, pipeline.predict(example)),
        input_example=example,
        serialization_format="skops",
        skops_trusted_types=["numpy.dtype"],
    )

    done = run(stack, "publish", str(tmp_path / "churn"), "--name", "churn", "--version", "4")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "takes age FP64, plan BYTES" in done.stdout

    rows = frame.iloc[10:15]
    expected = pipeline.predict(rows).tolist()
    (tmp_path / "rows.json").write_text(json.dumps({"dataframe_split": json.loads(rows.to_json(orient="split"))}))
    (tmp_path / "rows.csv").write_text(rows.to_csv(index=False))
    for option, file in (("--json", "rows.json"), ("--csv", "rows.csv")):
        answered = run(stack, "predict", "churn/4", option, str(tmp_path / file))
        assert answered.returncode == 0, answered.stderr
        assert json.loads(answered.stdout) == {"predictions": expected}


def test_delete_removes_every_version_and_waits_until_it_is_gone(stack: StackProcess, tmp_path: Path) -> None:
    model = LogisticRegression(max_iter=500).fit(IRIS.data, IRIS.target)
    joblib.dump(model, tmp_path / "gone.joblib")
    assert run(stack, "publish", str(tmp_path / "gone.joblib"), "--name", "gone").returncode == 0

    done = run(stack, "delete", "gone", "--yes", "--timeout", "60")

    assert done.returncode == 0, done.stderr
    assert "deleted gone" in done.stdout
    missing = run(stack, "predict", "gone", "--json", str(tmp_path / "gone.joblib"))
    assert missing.returncode == 1


@pytest.mark.parametrize(
    "args, message",
    [
        (["publish", "nowhere.joblib", "--name", "x"], "does not exist"),
        (["publish", "{model}", "--name", "../up"], "model name '../up'"),
        (["publish", "{not_a_model}", "--name", "broken"], "the model does not load here"),
        (["predict", "iris"], "give one of --json FILE or --csv FILE"),
        (["delete", "iris/zero", "--yes"], "is not NAME or NAME/VERSION"),
    ],
)
def test_a_mistake_is_one_line_and_a_non_zero_exit(
    stack: StackProcess, tmp_path: Path, args: list[str], message: str
) -> None:
    joblib.dump(LogisticRegression().fit(IRIS.data, IRIS.target), tmp_path / "model.joblib")
    (tmp_path / "broken.joblib").write_bytes(b"not a pickle")
    files = {"model": str(tmp_path / "model.joblib"), "not_a_model": str(tmp_path / "broken.joblib")}

    done = run(stack, *(arg.format(**files) for arg in args))

    assert done.returncode != 0
    assert message in done.stderr
    assert "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) <= 4


def test_without_a_deployment_the_command_says_where_to_find_one(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SERVERLESS_SKLEARN_")}
    done = subprocess.run(
        [*COMMAND, "models"], env=env, capture_output=True, text=True, timeout=60, check=False, cwd=tmp_path
    )
    assert done.returncode == 1
    assert "no deployment found" in done.stderr


def test_credentials_the_api_refuses_get_a_one_line_hint(stack: StackProcess) -> None:
    wrong = {"AWS_ACCESS_KEY_ID": "someone-else", "AWS_SECRET_ACCESS_KEY": "not-the-stacks"}
    env = {**stack.aws_env(), **wrong, "SERVERLESS_SKLEARN_BUCKET": stack.bucket}
    env["SERVERLESS_SKLEARN_URL"] = stack.inference_url.rstrip("/")

    done = subprocess.run([*COMMAND, "models"], env=env, capture_output=True, text=True, timeout=60, check=False)

    assert done.returncode == 1
    assert len(done.stderr.strip().splitlines()) == 1
    assert "refused the caller (403)" in done.stderr and "execute-api:Invoke" in done.stderr
    assert "The security token included in the request is invalid" in done.stderr
