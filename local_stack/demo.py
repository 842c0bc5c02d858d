"""``python -m local_stack.demo``: train two iris models and a DataFrame pipeline; upload one with the aws CLI, one
with the ``serverless-sklearn`` command and the pipeline as an MLflow model directory; call every API flavour. The
pipeline's answers are checked against its own ``predict`` and against MLflow's ``pyfunc``.

Starts the local stack as a child process (default ports, or free ones when those are taken), prints each request
and answer, stops the stack, and exits non-zero when any step fails.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from local_stack.process import (
    HttpAnswer,
    StackError,
    StackProcess,
    http_request,
    port_is_free,
    running_stack,
    wait_for_status,
)
from local_stack.stack import REPO_ROOT

DEFAULT_S3_PORT = 4566
DEFAULT_HTTP_PORT = 8080
READY_TIMEOUT_SECONDS = 60.0
LOG_PATH = REPO_ROOT / ".local-stack" / "demo.log"
SPECIES = ("setosa", "versicolor", "virginica")
# One flower of each species, as sepal length, sepal width, petal length, petal width (cm).
FLOWERS = [[5.1, 3.5, 1.4, 0.2], [5.9, 3.0, 4.2, 1.5], [6.7, 3.0, 5.2, 2.3]]
# Three customers for the churn pipeline: named columns of strings and numbers, one value missing (None).
CUSTOMERS: dict[str, list[Any]] = {
    "plan": ["basic", "pro", "basic"],
    "city": ["Oslo", "Lima", None],
    "age": [23.0, 51.0, 38.0],
    "monthly_spend": [12.5, 80.0, None],
}


class DemoFailed(Exception):
    """A step of the demo did not give the expected answer."""


def train_models(directory: Path) -> tuple[Path, Path]:
    """A logistic regression and a random forest on the iris data set shipped with scikit-learn."""
    import joblib
    from sklearn.datasets import load_iris
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.linear_model import LogisticRegression

    features, labels = load_iris(return_X_y=True)
    logistic = directory / "iris.joblib"
    forest = directory / "iris-forest.joblib"
    joblib.dump(LogisticRegression(max_iter=1000).fit(features, labels), logistic)
    joblib.dump(RandomForestClassifier(n_estimators=50, random_state=0).fit(features, labels), forest)
    return logistic, forest


def train_churn(directory: Path) -> tuple[Path, list[Any]]:
    """A pipeline on a pandas DataFrame: imputers, one-hot strings, scaled numbers, then a logistic regression, saved
    as MLflow saves it (a signature and an input example). Returns its directory and what MLflow's pyfunc predicts
    for ``CUSTOMERS``."""
    import mlflow.pyfunc
    import mlflow.sklearn
    import numpy as np
    import pandas as pd
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline, make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    rng = np.random.default_rng(0)
    rows = 300
    frame = pd.DataFrame(
        {
            "plan": rng.choice(["basic", "pro", "team"], rows),
            "city": rng.choice(["Oslo", "Lima", "Rome"], rows),
            "age": rng.uniform(18, 70, rows).round(),
            "monthly_spend": rng.gamma(2.0, 20.0, rows).round(2),
        }
    )
    churned = (frame["plan"] == "basic") & (frame["monthly_spend"] < 40)
    preprocess = ColumnTransformer(
        [
            ("strings", make_pipeline(SimpleImputer(strategy="most_frequent"), OneHotEncoder()), ["plan", "city"]),
            ("numbers", make_pipeline(SimpleImputer(), StandardScaler()), ["age", "monthly_spend"]),
        ]
    )
    pipeline = Pipeline([("preprocess", preprocess), ("model", LogisticRegression())]).fit(frame, churned)
    path = directory / "churn"
    signature = mlflow.models.infer_signature(frame, pipeline.predict(frame))
    mlflow.sklearn.save_model(
        pipeline, path, signature=signature, input_example=frame.head(3), serialization_format="cloudpickle"
    )
    answers = mlflow.pyfunc.load_model(str(path)).predict(pd.DataFrame(CUSTOMERS))
    if answers.tolist() != pipeline.predict(pd.DataFrame(CUSTOMERS)).tolist():
        raise DemoFailed("MLflow's pyfunc and the pipeline answer differently")
    return path, answers.tolist()


def pretty(value: Any, indent: int = 0) -> str:
    """JSON with objects spread over lines and lists of numbers kept on one line."""
    import json

    pad = "  " * (indent + 1)
    flat = json.dumps(value)
    if len(flat) <= 60 and not isinstance(value, list):
        return flat
    if isinstance(value, dict) and value:
        items = [f"{pad}{json.dumps(key)}: {pretty(item, indent + 1)}" for key, item in value.items()]
        return "{\n" + ",\n".join(items) + "\n" + "  " * indent + "}"
    if isinstance(value, list) and any(isinstance(item, dict) for item in value):
        items = [pad + pretty(item, indent + 1) for item in value]
        return "[\n" + ",\n".join(items) + "\n" + "  " * indent + "]"
    return flat


def rounded(value: Any) -> Any:
    if isinstance(value, float):
        return float(f"{value:.4g}")
    if isinstance(value, list):
        return [rounded(item) for item in value]
    if isinstance(value, dict):
        return {key: rounded(item) for key, item in value.items()}
    return value


def species(labels: Any) -> str:
    if isinstance(labels, list) and all(isinstance(label, int) and 0 <= label < len(SPECIES) for label in labels):
        return ", ".join(SPECIES[label] for label in labels)
    return str(labels)


def call(title: str, stack: StackProcess, path: str, payload: dict[str, Any]) -> Any:
    url = f"{stack.inference_url}{path}"
    print(f"\n--- {title}\n>>> POST {url}  (SigV4-signed)\n{pretty(payload)}")
    answer: HttpAnswer = http_request("POST", url, payload)
    try:
        body = answer.json()
    except ValueError:
        raise DemoFailed(
            f"{path} answered {answer.status} with a body that is not JSON: {answer.body[:200]!r}"
        ) from None
    shown = rounded(body)
    note = "  (numbers shown to 4 significant digits)" if shown != body else ""
    print(f"<<< {answer.status}{note}\n{pretty(shown)}")
    if answer.status != 200:
        raise DemoFailed(f"{path} answered {answer.status}: {body}")
    return body


def check(condition: bool, message: str) -> None:
    if not condition:
        raise DemoFailed(message)


def step(message: str) -> None:
    print(f"\n==> {message}", flush=True)


def choose_port(variable: str, default: int, what: str) -> int:
    """The port from the environment or the default; a free one when that is taken (0 always means a free one)."""
    raw = os.environ.get(variable, "").strip()
    wanted = int(raw) if raw.isascii() and raw.isdigit() else default
    if wanted and not port_is_free(wanted):
        print(f"Port {wanted} ({what}) is busy: using a free port instead.")
        return 0
    return wanted


def upload(stack: StackProcess, model: Path, key: str) -> None:
    recursive = ["--recursive"] if model.is_dir() else []
    print(
        f"$ aws --endpoint-url {stack.s3_endpoint} s3 cp {' '.join(recursive)} {model.name} s3://{stack.bucket}/{key}"
    )
    done = stack.aws("s3", "cp", "--no-progress", *recursive, str(model), f"s3://{stack.bucket}/{key}")
    print(done.stdout.strip())


def command(stack: StackProcess, *arguments: str, shown: str | None = None) -> str:
    """Run the serverless-sklearn command against the stack, print what it printed, and return it."""
    print(f"$ serverless-sklearn {shown or ' '.join(arguments)}")
    executable = [str(Path(sys.executable).with_name("serverless-sklearn"))]
    env = {
        **stack.aws_env(),
        "SERVERLESS_SKLEARN_BUCKET": stack.bucket,
        "SERVERLESS_SKLEARN_URL": stack.inference_url.rstrip("/"),
        "COLUMNS": "120",
    }
    done = subprocess.run([*executable, *arguments], env=env, capture_output=True, text=True, timeout=120, check=False)
    print(done.stdout.strip())
    if done.returncode != 0:
        raise DemoFailed(f"serverless-sklearn {arguments[0]} failed: {done.stderr.strip()}")
    return done.stdout


def publish(stack: StackProcess, model: Path, name: str, version: int) -> None:
    """The serverless-sklearn command: local checks, upload, wait until served, a curl to paste."""
    arguments = ["publish", str(model), "--name", name, "--version", str(version), "--timeout", "60"]
    command(stack, *arguments, shown=f"publish {model.name} --name {name} --version {version}")


def run_demo(stack: StackProcess, logistic: Path, forest: Path, churn: Path, churn_answers: list[Any]) -> None:
    url = stack.inference_url
    bucket = stack.bucket
    step(f"Upload the logistic regression as s3://{bucket}/iris.joblib (model iris, version 1)")
    upload(stack, logistic, "iris.joblib")
    step("Publish the random forest with the serverless-sklearn command (model iris-forest, version 2)")
    publish(stack, forest, "iris-forest", 2)
    step(f"Upload the DataFrame pipeline's MLflow model directory to s3://{bucket}/churn/1/ (model churn, version 1)")
    upload(stack, churn, "churn/1/")

    step("Wait until the loader has published the models uploaded with the aws CLI")
    for path in ("/v2/models/iris/ready", "/v2/models/churn/ready"):
        started = time.monotonic()
        wait_for_status(f"{url}{path}", 200, timeout=READY_TIMEOUT_SECONDS)
        print(f"GET {path} -> 200 after {time.monotonic() - started:.1f} s")

    step("The API asks who is calling, as a default deployment does: an unsigned request is refused")
    unsigned = http_request("GET", f"{url}/v2/models/iris/ready", signed=False)
    print(f"GET /v2/models/iris/ready, unsigned -> {unsigned.status} {unsigned.body.decode(errors='replace')}")
    check(unsigned.status == 403, f"an unsigned request was answered {unsigned.status}, not 403")

    v2 = call(
        "Open Inference Protocol (KServe V2): iris, with class probabilities",
        stack,
        "/v2/models/iris/infer",
        {
            "id": "demo-1",
            "inputs": [{"name": "input-0", "shape": [len(FLOWERS), 4], "datatype": "FP64", "data": FLOWERS}],
            "outputs": [{"name": "predict"}, {"name": "predict_proba"}],
        },
    )
    outputs = {output.get("name"): output for output in v2.get("outputs", [])}
    check("predict" in outputs, f"the V2 answer has no predict output: {v2}")
    print(f"species: {species(outputs['predict'].get('data'))}")

    v1 = call(
        "KServe V1: iris-forest",
        stack,
        "/v1/models/iris-forest:predict",
        {"instances": FLOWERS},
    )
    check(len(v1.get("predictions", [])) == len(FLOWERS), f"the V1 answer has no prediction per instance: {v1}")
    print(f"species: {species(v1['predictions'])}")

    original = call("Original format: iris", stack, "/inference", {"name": "iris", "inputs": FLOWERS})
    labels = original.get("predicted_label", [])
    check(len(labels) == len(FLOWERS), f"the answer has no predicted_label per input: {original}")
    print(f"species: {species(labels)}")

    run_churn(stack, churn_answers)
    run_operations(stack, logistic, forest)
    run_batch(stack, churn)


def run_batch(stack: StackProcess, churn: Path, rows: int = 100_000) -> None:
    """A nightly table: 100,000 customers (an id the model does not take, some values missing) scored by the churn
    pipeline as a batch job, every answer checked against the pipeline's own predict."""
    import csv

    import mlflow.sklearn
    import numpy as np
    import pandas as pd

    step(f"Score {rows:,} customers as a batch job: copy a CSV under s3://{stack.data_bucket}/input/churn/")
    rng = np.random.default_rng(7)
    frame = pd.DataFrame(
        {
            "plan": rng.choice(["basic", "pro", "team"], rows),
            "city": rng.choice(["Oslo", "Lima", "Rome"], rows).astype(object),
            "age": rng.uniform(18, 70, rows).round(),
            "monthly_spend": rng.gamma(2.0, 20.0, rows).round(2),
        }
    )
    frame.loc[rng.random(rows) < 0.05, "city"] = None
    frame.loc[rng.random(rows) < 0.05, "monthly_spend"] = np.nan
    expected = mlflow.sklearn.load_model(str(churn)).predict(frame).tolist()
    path = churn.parent / "customers.csv"
    with path.open("w", newline="") as out:
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(["customer_id", *frame.columns])
        for number, row in enumerate(frame.itertuples(index=False)):
            writer.writerow([f"c{number:06d}", *("" if pd.isna(value) else value for value in row)])
    started = time.monotonic()
    print(f"$ aws s3 cp customers.csv s3://{stack.data_bucket}/input/churn/customers.csv --metadata join=input")
    stack.aws(
        "s3",
        "cp",
        "--no-progress",
        str(path),
        f"s3://{stack.data_bucket}/input/churn/customers.csv",
        "--metadata",
        "join=input",
    )
    s3 = stack.s3_client()
    manifest: dict[str, Any] | None = None
    for _ in range(600):  # a job here takes some seconds
        try:
            manifest = json.loads(
                s3.get_object(Bucket=stack.data_bucket, Key="output/churn/1/customers.csv.manifest.json")["Body"].read()
            )
            break
        except s3.exceptions.NoSuchKey:
            time.sleep(0.2)
    check(manifest is not None, "the batch job wrote no manifest")
    assert manifest is not None
    print(pretty({k: manifest[k] for k in ("status", "model", "version", "runtime", "rows_in", "rows_out")}))
    check(manifest["status"] == "SUCCEEDED", f"the batch job failed: {manifest.get('reason')}")
    body = s3.get_object(Bucket=stack.data_bucket, Key="output/churn/1/customers.csv.out")["Body"].read().decode()
    table = list(csv.reader(body.splitlines()))
    check(table[0] == ["customer_id", *frame.columns, "predict"], f"the answers' header is {table[0]}")
    answers = [row[-1] == "True" for row in table[1:]]
    check(answers == expected, "the batch answers differ from the pipeline's own predict")
    took = time.monotonic() - started
    print(f"{len(answers):,} answers in {took:.1f} s, each the pipeline's own predict, beside their customer_id")

    step("The same customers as a Parquet file, scored with the serverless-sklearn command")
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.Table.from_pandas(frame.assign(customer_id=[f"c{n:06d}" for n in range(rows)]), preserve_index=False)
    parquet = churn.parent / "customers.parquet"
    pq.write_table(table, parquet, row_group_size=10_000)
    answers_file = churn.parent / "answers.parquet"
    command(
        stack,
        "batch",
        "churn",
        str(parquet),
        "--data-bucket",
        stack.data_bucket,
        "--download",
        str(answers_file),
        shown=f"batch churn customers.parquet --download answers.parquet  # {rows // 10_000} row groups",
    )
    scored = pq.read_table(answers_file)
    check(scored.column("predict").to_pylist() == expected, "the Parquet answers differ from the pipeline's predict")
    print(
        f"{scored.num_rows:,} answers in Parquet, column predict ({scored.schema.field('predict').type}), each the "
        "pipeline's own predict"
    )


def run_operations(stack: StackProcess, logistic: Path, forest: Path) -> None:
    """A canary: version 2 of iris on 10 % of the traffic and in the shadow of the rest, every request captured;
    then the status of both versions, and a rollback."""
    import joblib
    import numpy as np

    models = {"1": joblib.load(logistic), "2": joblib.load(forest)}
    step("Pin iris to version 1, then upload the random forest as version 2: it takes no traffic yet")
    command(stack, "traffic", "iris", "1=100")
    upload(stack, forest, "iris/2/model.joblib")
    wait_for_status(f"{stack.inference_url}/v2/models/iris/versions/2/ready", 200, timeout=READY_TIMEOUT_SECONDS)
    step("Send 10 % of iris's traffic to version 2, let it answer the rest in the shadow, and capture every request")
    command(stack, "traffic", "iris", "1=90", "2=10", "--shadow", "2", "--shadow-percent", "100")
    command(stack, "capture", "iris", "100")
    requests = 200
    served: dict[str, int] = {}
    body = {"inputs": [{"name": "input-0", "shape": [len(FLOWERS), 4], "datatype": "FP64", "data": FLOWERS}]}
    for caller in range(requests):
        headers = {"X-Route-Key": f"customer-{caller}", "X-Inference-Id": f"demo-{caller}"}
        answer = http_request("POST", f"{stack.inference_url}/v2/models/iris/infer", body, headers=headers)
        check(answer.status == 200, f"a routed request was answered {answer.status}: {answer.body[:200]!r}")
        version = answer.headers.get("x-model-version", "")
        labels = answer.json()["outputs"][0]["data"]
        check(labels == models[version].predict(np.array(FLOWERS)).tolist(), f"version {version} answered {labels}")
        served[version] = served.get(version, 0) + 1
    print(f"{requests} requests, one route key each: {served} by the version that answered (X-Model-Version)")
    check(set(served) == {"1", "2"} and served["2"] < served["1"], f"the 90/10 split served {served}")

    step(f"The captured requests and answers in s3://{stack.data_bucket}/capture/iris/ (SageMaker's record format)")
    records = captured(stack, "iris", at_least=requests + served["1"])
    kinds = {(r["version"], r["shadow"]): 0 for r in records}
    for record in records:
        kinds[(record["version"], record["shadow"])] += 1
    for (version, shadow), count in sorted(kinds.items()):
        print(f"  version {version}{' (shadow answers)' if shadow else ''}: {count} records")
    check(kinds.get(("2", True)) == served["1"], f"every shadow answer is captured: {kinds}")
    example = next(r for r in records if r["shadow"])
    data = example["captureData"]
    example["captureData"] = {side: {**data[side], "data": data[side]["data"][:70] + "..."} for side in data}
    print(pretty(example))

    step("What each version did in the last hour")
    command(stack, "status", "iris")
    step("Roll back: all of iris's traffic to the version that last had all of it")
    command(stack, "rollback", "iris")
    versions = {http_request("POST", f"{stack.inference_url}/v2/models/iris/infer", body).headers["x-model-version"]}
    check(versions == {"1"}, f"after the rollback, version(s) {versions} answered")


def captured(stack: StackProcess, model: str, *, at_least: int) -> list[dict[str, Any]]:
    """The capture records of a model in the data bucket, once at least ``at_least`` have been delivered."""
    import json

    s3 = stack.s3_client()
    records: list[dict[str, Any]] = []
    for _ in range(100):  # the stack delivers about once a second
        keys = [
            item["Key"]
            for page in s3.get_paginator("list_objects_v2").paginate(
                Bucket=stack.data_bucket, Prefix=f"capture/{model}/"
            )
            for item in page.get("Contents", ())
        ]
        records = [
            json.loads(line)
            for key in keys
            for line in s3.get_object(Bucket=stack.data_bucket, Key=key)["Body"].read().splitlines()
        ]
        if len(records) >= at_least:
            print(f"{len(records)} records in {len(keys)} object(s), e.g. {keys[0]}")
            return records
        time.sleep(0.2)
    raise DemoFailed(f"{len(records)} capture records arrived, not {at_least}")


def run_churn(stack: StackProcess, expected: list[Any]) -> None:
    url = f"{stack.inference_url}/v2/models/churn"
    print(f"\n--- What the churn pipeline takes\n>>> GET {url}")
    metadata = http_request("GET", url).json()
    inputs = [{key: tensor.get(key) for key in ("name", "datatype", "shape")} for tensor in metadata.get("inputs", [])]
    print(f"<<< inputs: {pretty(inputs)}")
    check([tensor["name"] for tensor in inputs] == list(CUSTOMERS), f"the metadata does not list the columns: {inputs}")
    rows = len(expected)
    per_column = call(
        "V2, one input per column (content_type pd); null is a missing value",
        stack,
        "/v2/models/churn/infer",
        {
            "parameters": {"content_type": "pd"},
            "inputs": [
                {
                    "name": tensor["name"],
                    "datatype": tensor["datatype"],
                    "shape": [rows],
                    "data": CUSTOMERS[tensor["name"]],
                }
                for tensor in inputs
            ],
        },
    )
    answers = next((o.get("data") for o in per_column.get("outputs", []) if o.get("name") == "predict"), None)
    check(answers == expected, f"V2 answered {answers}; the pipeline's own predict says {expected}")
    records = [dict(zip(CUSTOMERS, values, strict=True)) for values in zip(*CUSTOMERS.values(), strict=True)]
    v1 = call("KServe V1, one record per customer", stack, "/v1/models/churn:predict", {"instances": records})
    check(v1.get("predictions") == expected, f"V1 answered {v1}; the pipeline's own predict says {expected}")
    split = {"columns": list(CUSTOMERS), "data": [list(values) for values in zip(*CUSTOMERS.values(), strict=True)]}
    scored = call("MLflow's scoring protocol", stack, "/v2/models/churn/invocations", {"dataframe_split": split})
    check(scored.get("predictions") == expected, f"/invocations answered {scored}; MLflow's pyfunc says {expected}")
    print(f"churned: {expected}, as the pipeline and MLflow's pyfunc answer locally")


def main() -> int:
    started = time.monotonic()
    LOG_PATH.parent.mkdir(parents=True, exist_ok=True)
    s3_port = choose_port("LOCAL_S3_PORT", DEFAULT_S3_PORT, "S3")
    http_port = choose_port("LOCAL_HTTP_PORT", DEFAULT_HTTP_PORT, "HTTP")
    running: StackProcess | None = None
    try:
        with tempfile.TemporaryDirectory(prefix="serverless-sklearn-demo-") as scratch:
            step("Train a logistic regression and a random forest on iris, and a churn pipeline saved with MLflow")
            logistic, forest = train_models(Path(scratch))
            churn, churn_answers = train_churn(Path(scratch))
            step("Start the local stack")
            with running_stack(Path(scratch) / "efs", s3_port=s3_port, http_port=http_port, log_path=LOG_PATH) as stack:
                running = stack
                print(f"S3 {stack.s3_endpoint}, bucket {stack.bucket}, inference API {stack.inference_url}")
                print(f"(its log: {LOG_PATH})")
                run_demo(stack, logistic, forest, churn, churn_answers)
                step("Stop the local stack")
    except (DemoFailed, StackError, OSError) as error:
        print(f"\nDEMO FAILED: {error}", file=sys.stderr)
        tail = running.log_tail() if running is not None else ""
        if tail:
            print(f"\nLast lines of {LOG_PATH}:\n{tail}", file=sys.stderr)
        print(f"Demo failed after {time.monotonic() - started:.1f} s", file=sys.stderr)
        return 1
    print(
        f"\nDemo finished in {time.monotonic() - started:.1f} s: every model answered V2, V1, MLflow and /inference; "
        "a canary split, shadowed, captured and rolled back; a 100,000-row table scored as a batch job, in CSV and "
        "in Parquet."
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
