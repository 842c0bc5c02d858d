"""Proves the built image serves models end to end, with both handlers running inside it.

    proof.py --image IMAGE -- buildah --root ... --storage-driver vfs

1. Starts an S3 emulator (moto) from the project venv on 127.0.0.1 on a free port and uploads a small trained
   model twice: as iris.joblib (version 1) and as iris/2/model.skops (version 2).
2. Inside the image, as the EFS access point's user, with a host directory mounted as the model directory, runs the
   loader handler on the S3 ObjectCreated event for both uploads: it publishes them into the mounted directory.
3. Inside the image again, runs the handler named by the image's CMD on HTTP API (payload 2.0) events for
   POST /v2/models/iris/infer and /v2/models/iris/versions/1/infer, and checks the predictions against the model's;
   the loader has published an ONNX conversion beside each model, and the model metadata must name onnxruntime as
   the runtime serving it (the ONNX fast path works in the image, not only on the host).
4. Does the same for a DataFrame pipeline (named string and number columns, a ColumnTransformer) uploaded as
   churn.joblib, asked with one V2 input per column: scikit-learn serves it with pandas inside the image.
5. Does the same for an XGBoost and a LightGBM classifier (xgb.joblib, lgbm.joblib): the loader loads and checks
   both inside the image, and each answers as it does here, on whichever runtime the loader chose.
6. Saves the DataFrame pipeline as an MLflow model directory (cloudpickle, a signature, an input example), uploads
   its files under churn-mlflow/1/, and asks it through MLflow's scoring protocol: MLmodel is read (PyYAML) and the
   cloudpickle file loads inside the image, which holds no MLflow.
7. Scores the DataFrame pipeline's rows as a Parquet batch job with the batch worker handler inside the image, its
   three steps one call each (plan, the ranges as the Distributed Map sends them, assemble), and checks the answers
   in the output Parquet file: pyarrow reads and writes Parquet inside the image.
It also checks that the CMD is the agreed inference handler, that no installed wheel needs a newer glibc than
Lambda's, that every shared library the installed extension modules need resolves inside the image (with
Lambda's library path), and that the build's CA bundle did not end up in the image. It prints the image's
uncompressed size, the handlers' import times and the inference calls' durations inside it.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

# Run as a script from scripts/image/: make the repository root importable for the shared moto server helper.
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from local_stack.moto_server import moto_server

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
EVENTS = ROOT / "tests" / "events"
REGION = "us-east-1"
FAKE_AWS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": REGION,
    "AWS_REGION": REGION,
}
BUCKET = "image-test-models"
MODEL = "iris"
# Uploaded keys and where the loader publishes them under models/: both key layouts, both model formats.
UPLOADS = {f"{MODEL}.joblib": f"{MODEL}/1/model.joblib", f"{MODEL}/2/model.skops": f"{MODEL}/2/model.skops"}
TABULAR = "churn"
TABULAR_KEY = f"{TABULAR}.joblib"
FAMILIES = ("xgb", "lgbm")
MLFLOW_MODEL = "churn-mlflow"
RUN_TIMEOUT_SECONDS = 180
EFS_UID = 1001
CONTAINER_PREFIX = "image-test-"
INFERENCE_HANDLER = "lambdas.inference.handler.lambda_handler"
LOADER_HANDLER = "lambdas.loader.handler.lambda_handler"
BATCH_HANDLER = "lambdas.batch.handler.lambda_handler"
DATA_BUCKET = "data"
# Amazon Linux 2023, under the Lambda Python 3.13 base, has glibc 2.34. A build on a newer local base could pick
# wheels that need a newer glibc and would fail to import on Lambda.
LAMBDA_GLIBC = (2, 34)
CA_BUNDLE = Path(os.environ.get("CA_BUNDLE", "/etc/ssl/certs/ca-certificates.crt"))
MANYLINUX = re.compile(r"manylinux_(\d+)_(\d+)_")


class ProofFailed(Exception):
    """The image did not do what a deployment relies on; the message says what."""


def train_model(paths: dict[str, Path]) -> tuple[list[list[float]], list[int]]:
    """A small classifier saved in each upload's format; returns sample rows and the labels it predicts for them."""
    import joblib
    import skops.io
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression

    features, labels = load_iris(return_X_y=True)
    model = LogisticRegression(max_iter=500).fit(features, labels)
    for path in paths.values():
        if path.suffix == ".skops":
            skops.io.dump(model, path)
        else:
            joblib.dump(model, path)
    rows = features[[0, 60, 120]]
    return rows.tolist(), [int(label) for label in model.predict(rows)]


def train_tabular_model(path: Path) -> tuple[dict[str, list[Any]], list[int]]:
    """A DataFrame pipeline on named columns of strings and numbers; returns columns to ask and its answers."""
    import joblib
    import numpy as np
    import pandas as pd
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"age": rng.uniform(18, 80, 200), "city": rng.choice(["Oslo", "Rome", "Lima"], 200).tolist()})
    target = ((frame["age"] > 45) ^ (frame["city"] == "Rome")).astype(int)
    preprocess = ColumnTransformer([("age", StandardScaler(), ["age"]), ("city", OneHotEncoder(), ["city"])])
    model = Pipeline([("preprocess", preprocess), ("model", LogisticRegression())]).fit(frame, target)
    joblib.dump(model, path)
    save_mlflow_directory(model, frame, path.parent / MLFLOW_MODEL)
    asked = frame.iloc[:4]
    return {column: asked[column].tolist() for column in asked.columns}, model.predict(asked).tolist()


def save_mlflow_directory(model: Any, frame: Any, directory: Path) -> None:
    import mlflow.sklearn
    from mlflow.models import infer_signature

    signature = infer_signature(frame, model.predict(frame))
    example = frame.head(3)
    mlflow.sklearn.save_model(
        model, directory, signature=signature, input_example=example, serialization_format="cloudpickle"
    )


def train_family_models(work: Path, rows: list[list[float]]) -> dict[str, tuple[Path, list[int]]]:
    """An XGBoost and a LightGBM classifier on iris; returns each file and the labels it predicts for ``rows``."""
    import joblib
    import lightgbm
    import xgboost
    from sklearn.datasets import load_iris

    features, labels = load_iris(return_X_y=True)
    models = {
        "xgb": xgboost.XGBClassifier(n_estimators=20, max_depth=3, n_jobs=1),
        "lgbm": lightgbm.LGBMClassifier(n_estimators=20, num_leaves=8, verbose=-1, n_jobs=1),
    }
    trained = {}
    for name, model in models.items():
        model.fit(features, labels)
        path = work / f"{name}.joblib"
        joblib.dump(model, path)
        trained[name] = (path, [int(label) for label in model.predict(rows)])
    return trained


def s3_created_record(bucket: str, key: str, head: dict[str, Any]) -> dict[str, Any]:
    """An ObjectCreated:Put record from the fixture (tests/events/s3_put.json) for an object that exists."""
    from urllib.parse import quote_plus

    event: dict[str, Any] = json.loads((EVENTS / "s3_put.json").read_text(encoding="utf-8"))
    record: dict[str, Any] = event["Records"][0]
    record["eventTime"] = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime())
    record["s3"]["bucket"].update(name=bucket, arn=f"arn:aws:s3:::{bucket}")
    record["s3"]["object"] = {
        "key": quote_plus(key),
        "size": head["ContentLength"],
        "eTag": head["ETag"].strip('"'),
        "versionId": head["VersionId"],
        # S3 sequencers are hexadecimal and grow with each event for a key.
        "sequencer": f"{time.time_ns():018X}",
    }
    return record


def http_api_event(path: str, body: dict[str, Any] | None, method: str = "POST") -> dict[str, Any]:
    """The API Gateway HTTP API (payload 2.0) fixture (tests/events/http_post.json) for a method, path and body."""
    event: dict[str, Any] = json.loads((EVENTS / "http_post.json").read_text(encoding="utf-8"))
    text = json.dumps(body) if body is not None else None
    now = time.time()
    event.update(rawPath=path, body=text, isBase64Encoded=False)
    event["headers"]["content-length"] = str(len(text.encode()) if text else 0)
    event["requestContext"]["http"].update(path=path, method=method)
    event["requestContext"]["time"] = time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now))
    event["requestContext"]["timeEpoch"] = int(now * 1000)
    return event


class Image:
    """The built image in the local buildah store."""

    def __init__(self, buildah: Sequence[str], image: str) -> None:
        self.buildah = list(buildah)
        self.image = image

    def layer_sizes(self) -> list[int]:
        """Uncompressed sizes of the image's layers, base first (the local store keeps layers as plain tars)."""
        manifest = json.loads(self._inspect()["Manifest"])
        return [int(layer["size"]) for layer in manifest["layers"]]

    def command(self) -> list[str]:
        """The image's CMD: the handler the Lambda runtime calls unless the function overrides it."""
        config = json.loads(self._inspect()["Config"])
        return list(config["config"].get("Cmd") or [])

    def _inspect(self) -> dict[str, Any]:
        inspected: dict[str, Any] = json.loads(self.buildah_output("inspect", "--type", "image", self.image))
        return inspected

    def container(self) -> str:
        """A working container of the image, kept between runs: creating one copies the whole image (vfs storage).

        The handlers run as a non-root user that cannot write to the image's files, so a kept container stays as
        the image made it. Containers of older images are removed.
        """
        image_id = self.buildah_output("inspect", "--type", "image", "--format", "{{.FromImageID}}", self.image).strip()
        name = f"{CONTAINER_PREFIX}{image_id[:12]}"
        listed = self.buildah_output("containers", "--all", "--format", "{{.ContainerName}}").split()
        for stale in listed:
            if stale.startswith(CONTAINER_PREFIX) and stale != name:
                self.buildah_output("rm", stale)
        if name not in listed:
            self.buildah_output("from", "--quiet", "--name", name, self.image)
        return name

    def buildah_output(self, *args: str) -> str:
        completed = subprocess.run(
            [*self.buildah, *args], capture_output=True, text=True, timeout=RUN_TIMEOUT_SECONDS, check=False
        )
        if completed.returncode != 0:
            raise ProofFailed(
                f"buildah {args[0]} failed ({completed.returncode}):\n{completed.stdout}{completed.stderr}"
            )
        return completed.stdout


class Invoker:
    """Runs handlers in one working container as the EFS access point's user, with the work directories mounted."""

    def __init__(self, image: Image, container: str, work: Path, env: dict[str, str]) -> None:
        self.image = image
        self.container = container
        self.work = work
        self.env = env

    def __call__(self, handler: str, *events: dict[str, Any]) -> dict[str, Any]:
        """Runs one handler on events in one process; returns what invoke.py recorded (import time, calls)."""
        name = handler.split(".")[1]
        event_files = []
        for number, event in enumerate(events):
            event_file = self.work / "proof" / f"{name}-event-{number}.json"
            event_file.write_text(json.dumps(event), encoding="utf-8")
            event_file.chmod(0o644)
            event_files.append(f"/proof/{event_file.name}")
        out = self.work / "out" / f"{name}-result.json"
        out.unlink(missing_ok=True)
        args = ["run", "--isolation", "chroot", "--user", f"{EFS_UID}:{EFS_UID}"]
        for directory, target in (("proof", "/proof"), ("out", "/out"), ("ml", "/mnt/ml")):
            args += ["--volume", f"{self.work / directory}:{target}"]
        for variable, value in self.env.items():
            args += ["--env", f"{variable}={value}"]
        command = ["python3", "/proof/invoke.py", handler, f"/out/{out.name}", *event_files]
        logs = self.image.buildah_output(*args, self.container, "--", *command)
        if not out.exists():
            raise ProofFailed(f"{handler} recorded no result; its output:\n{logs}")
        record: dict[str, Any] = json.loads(out.read_text(encoding="utf-8"))
        return record


def check_wheels_run_on_lambda(image: Image, container: str) -> None:
    """Fails when an installed wheel needs a newer glibc than the Lambda base has."""
    tags = image.buildah_output(
        "run", "--isolation", "chroot", container, "--", "sh", "-c", 'cat "$LAMBDA_TASK_ROOT"/*.dist-info/WHEEL'
    )
    too_new = sorted(
        {
            line.split(":", 1)[1].strip()
            for line in tags.splitlines()
            if line.startswith("Tag:")
            and (found := MANYLINUX.search(line))
            and (int(found[1]), int(found[2])) > LAMBDA_GLIBC
        }
    )
    if too_new:
        raise ProofFailed(f"wheels need a newer glibc than Lambda's {LAMBDA_GLIBC}: {too_new}")


def check_shared_libraries_resolve(image: Image, container: str) -> None:
    """Fails when an extension module or bundled library needs a shared library the image cannot find (XGBoost
    and LightGBM need OpenMP's libgomp.so.1, which not every base has); prints where libgomp.so.1 comes from."""
    listing = image.buildah_output(
        "run", "--isolation", "chroot", container, "--",
        "sh", "-c", 'find "$LAMBDA_TASK_ROOT" -type f \\( -name "*.so" -o -name "*.so.*" \\) -exec ldd {} + 2>&1',
    )  # fmt: skip
    current, unresolved, gomp = "", [], set()
    for line in listing.splitlines():
        if not line.startswith(("\t", " ")) and line.endswith(":"):
            current = line[:-1]
        elif "not found" in line:
            unresolved.append(f"{current}: {line.strip()}")
        elif line.strip().startswith("libgomp.so.1 =>"):
            gomp.add(line.split("=>", 1)[1].split("(")[0].strip())
    if unresolved:
        raise ProofFailed(f"shared libraries missing in the image: {unresolved[:10]}")
    print(f"every shared library of the installed packages resolves; libgomp.so.1 from {sorted(gomp)}")


def check_ca_bundle_not_baked_in(image: Image, container: str, ca_bundle: Path) -> None:
    """Fails when the build's CA bundle (a build secret, for the pip step only) was left in the image."""
    if not ca_bundle.is_file():
        return
    digest = hashlib.sha256(ca_bundle.read_bytes()).hexdigest()
    listing = image.buildah_output(
        "run", "--isolation", "chroot", container, "--",
        "sh", "-c", r"find / -xdev -type f \( -name '*.pem' -o -name '*.crt' \) -exec sha256sum {} +",
    )  # fmt: skip
    baked = [line.split(maxsplit=1)[1] for line in listing.splitlines() if line.startswith(digest)]
    if baked:
        raise ProofFailed(f"the build's CA bundle is in the image: {baked}")


def prove(image: Image, work: Path) -> None:
    # The functions run as a non-root user, and EFS is reached through an access point owning files as 1001.
    for directory, mode in (("proof", 0o755), ("out", 0o755), ("ml", 0o750)):
        (work / directory).mkdir(mode=mode)
    for writable in ("out", "ml"):
        os.chown(work / writable, EFS_UID, EFS_UID)
    invoke_script = work / "proof" / "invoke.py"
    shutil.copy(HERE / "invoke.py", invoke_script)
    invoke_script.chmod(0o644)
    uploads = {key: work / key.replace("/", "-") for key in UPLOADS}
    rows, expected = train_model(uploads)
    tabular_path = work / TABULAR_KEY
    columns, tabular_expected = train_tabular_model(tabular_path)
    families = train_family_models(work, rows)
    os.environ.update(FAKE_AWS)
    import boto3

    # The inference function runs the image's own CMD; the loader function overrides it with its handler.
    command = image.command()
    if command != [INFERENCE_HANDLER]:
        raise ProofFailed(f"the image's CMD is {command}, not [{INFERENCE_HANDLER!r}]")
    container = image.container()
    check_wheels_run_on_lambda(image, container)
    check_shared_libraries_resolve(image, container)
    check_ca_bundle_not_baked_in(image, container, CA_BUNDLE)
    with moto_server(FAKE_AWS, work / "moto.log") as endpoint:
        s3 = boto3.client("s3", endpoint_url=endpoint, region_name=REGION)
        s3.create_bucket(Bucket=BUCKET)
        s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
        records = []
        family_uploads = {f"{name}.joblib": path for name, (path, _) in families.items()}
        mlflow_files = {
            f"{MLFLOW_MODEL}/1/{file.relative_to(work / MLFLOW_MODEL).as_posix()}": file
            for file in sorted((work / MLFLOW_MODEL).rglob("*"))
            if file.is_file()
        }
        for key, path in {**uploads, TABULAR_KEY: tabular_path, **family_uploads, **mlflow_files}.items():
            s3.upload_file(str(path), BUCKET, key)
            records.append(s3_created_record(BUCKET, key, s3.head_object(Bucket=BUCKET, Key=key)))
        invoke = Invoker(
            image,
            container,
            work,
            {
                **FAKE_AWS,
                "AWS_ENDPOINT_URL_S3": endpoint,
                "MODEL_DIR": "/mnt/ml",
                "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "1024",
            },
        )
        loaded = invoke(LOADER_HANDLER, {"Records": records})
        for key, path in uploads.items():
            published = work / "ml" / "models" / UPLOADS[key]
            if not published.is_file() or published.read_bytes() != path.read_bytes():
                raise ProofFailed(f"the loader did not publish {key} as {UPLOADS[key]}: {loaded['calls'][0]['result']}")
            if not (published.parent / "model.onnx").is_file():
                fast_path = json.loads((published.parent / "metadata.json").read_text(encoding="utf-8"))["fast_path"]
                raise ProofFailed(f"the loader published no ONNX conversion beside {UPLOADS[key]}: {fast_path}")
        print(
            f"loader published {', '.join(UPLOADS.values())} with an ONNX conversion beside each; "
            f"it returned {json.dumps(loaded['calls'][0]['result'])}"
        )

        tensor = {"name": "input-0", "shape": [len(rows), len(rows[0])], "datatype": "FP64", "data": rows}
        request = {"id": "image-test", "inputs": [tensor]}
        latest = http_api_event(f"/v2/models/{MODEL}/infer", request)
        first = http_api_event(f"/v2/models/{MODEL}/versions/1/infer", request)
        metadata = http_api_event(f"/v2/models/{MODEL}", None, method="GET")
        per_column = {
            "inputs": [
                {
                    "name": name,
                    "shape": [len(values)],
                    "datatype": "BYTES" if isinstance(values[0], str) else "FP64",
                    "data": values,
                }
                for name, values in columns.items()
            ],
            "parameters": {"content_type": "pd"},
        }
        tabular = http_api_event(f"/v2/models/{TABULAR}/infer", per_column)
        family_calls = []
        for name in FAMILIES:
            family_calls.append(http_api_event(f"/v1/models/{name}:predict", {"instances": rows}))
            family_calls.append(http_api_event(f"/v2/models/{name}", None, method="GET"))
        split = {"columns": list(columns), "data": [list(row) for row in zip(*columns.values(), strict=True)]}
        scored = http_api_event(f"/v2/models/{MLFLOW_MODEL}/invocations", {"dataframe_split": split})
        served = invoke(command[0], latest, first, latest, metadata, tabular, *family_calls, scored)
        batch_answers = score_batch(invoke, s3, columns)

    platform = json.loads(served["calls"][3]["result"]["body"]).get("platform")
    if platform != "onnxruntime_onnx":
        raise ProofFailed(f"the model metadata names platform {platform!r}, not the ONNX fast path")
    for call, version in zip(served["calls"][:3], ("2", "1", "2"), strict=True):
        response = call["result"]
        if response.get("statusCode") != 200:
            raise ProofFailed(f"inference answered {response.get('statusCode')}: {response.get('body')}")
        body = json.loads(response["body"])
        outputs = {output["name"]: output for output in body.get("outputs", [])}
        predicted = outputs.get("predict", next(iter(outputs.values()), {})).get("data")
        if (body.get("model_name"), str(body.get("model_version"))) != (MODEL, version) or predicted != expected:
            raise ProofFailed(f"expected {MODEL} version {version} to predict {expected}, got {body}")
    print(
        f"inference predicted {expected} for {len(rows)} rows from versions 2 (skops, latest) and 1 (joblib), "
        f"served by {platform}"
    )
    answer = served["calls"][4]["result"]
    tabular_body = json.loads(answer.get("body") or "{}")
    got = (tabular_body.get("outputs") or [{}])[0].get("data")
    if answer.get("statusCode") != 200 or got != tabular_expected:
        raise ProofFailed(f"expected the DataFrame pipeline to predict {tabular_expected}, got {answer}")
    print(f"inference predicted {tabular_expected} for a DataFrame pipeline asked with one V2 input per column")
    for index, name in enumerate(FAMILIES):
        answer, described = served["calls"][5 + 2 * index]["result"], served["calls"][6 + 2 * index]["result"]
        got = json.loads(answer.get("body") or "{}").get("predictions")
        expected_labels = families[name][1]
        if answer.get("statusCode") != 200 or got != expected_labels:
            raise ProofFailed(f"expected {name} to predict {expected_labels}, got {answer}")
        runtime = json.loads(described.get("body") or "{}").get("platform")
        print(f"inference predicted {expected_labels} with the {name} classifier, served by {runtime}")
    answer = served["calls"][-1]["result"]
    got = json.loads(answer.get("body") or "{}").get("predictions")
    if answer.get("statusCode") != 200 or got != tabular_expected:
        raise ProofFailed(f"expected the MLflow directory to predict {tabular_expected}, got {answer}")
    print(f"inference predicted {tabular_expected} from an MLflow model directory through /invocations")
    if batch_answers != tabular_expected:
        raise ProofFailed(f"expected the Parquet batch job to answer {tabular_expected}, got {batch_answers}")
    print(f"the batch worker answered {batch_answers} for the same rows as a Parquet file, in Parquet")
    cold, _, warm = (call["seconds"] * 1000 for call in served["calls"][:3])
    print(
        f"import time inside the image: inference handler {served['import_seconds'] * 1000:.0f} ms, "
        f"loader handler {loaded['import_seconds'] * 1000:.0f} ms; "
        f"inference call {cold:.0f} ms with the model loaded from disk, {warm:.1f} ms from the cache"
    )


def score_batch(invoke: Invoker, s3: Any, columns: dict[str, list[Any]]) -> list[Any]:
    """The rows as a Parquet batch job, its three steps run by the batch worker handler inside the image."""
    import io

    import pyarrow as pa
    import pyarrow.parquet as pq

    s3.create_bucket(Bucket=DATA_BUCKET)
    s3.put_bucket_versioning(Bucket=DATA_BUCKET, VersioningConfiguration={"Status": "Enabled"})
    rows = io.BytesIO()
    pq.write_table(pa.table(columns), rows)
    key = f"input/{TABULAR}/rows.parquet"
    s3.put_object(Bucket=DATA_BUCKET, Key=key, Body=rows.getvalue())
    planned = invoke(BATCH_HANDLER, {"step": "plan", "bucket": DATA_BUCKET, "key": key})["calls"][0]["result"]
    if "plan" not in planned:
        raise ProofFailed(f"the batch worker refused the job: {planned}")
    invoke(BATCH_HANDLER, {"BatchInput": {"step": "score", "plan": planned["plan"]}, "Items": planned["items"]})
    manifest = invoke(BATCH_HANDLER, {"step": "assemble", "plan": planned["plan"]})["calls"][0]["result"]
    if manifest.get("status") != "SUCCEEDED":
        raise ProofFailed(f"the batch job failed: {manifest}")
    answers = s3.get_object(Bucket=DATA_BUCKET, Key=manifest["out_key"])["Body"].read()
    return list(pq.read_table(io.BytesIO(answers)).column("predict").to_pylist())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--image", required=True)
    parser.add_argument("buildah", nargs="+", help="the buildah command with its storage options")
    args = parser.parse_args()
    image = Image(args.buildah, args.image)
    layers = image.layer_sizes()
    print(
        f"image {args.image}: {sum(layers) / 1e6:.0f} MB uncompressed "
        f"(layers: {', '.join(f'{size / 1e6:.1f}' for size in layers)} MB)"
    )
    with tempfile.TemporaryDirectory(prefix="image-test-") as tmp:
        try:
            prove(image, Path(tmp))
        except ProofFailed as failure:
            sys.exit(f"image test failed: {failure}")


if __name__ == "__main__":
    main()
