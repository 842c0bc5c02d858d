"""MLflow model directories as ``mlflow.sklearn.save_model`` writes them, uploaded file by file as
``aws s3 cp --recursive`` does, published by the real loader and asked through the inference handler.

Every answer is compared with what ``mlflow.pyfunc.load_model(directory).predict`` answers on the same rows.
"""

from __future__ import annotations

import csv
import io
import json
from importlib.metadata import version
from pathlib import Path
from typing import Any

import mlflow
import mlflow.sklearn
import numpy as np
import pandas as pd
import pytest
import yaml
from mlflow.models import Model, infer_signature
from sklearn.compose import make_column_transformer
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from tests.support.inference import settings
from tests.support.loader import counts
from tests.support.payloads import DANGEROUS_TYPES, MARKER_TYPE, payload_skops
from tests.support.served import Served

COLUMNS = ["age", "plan", "calls"]
REQUIREMENTS = [f"{name}=={version(name)}" for name in ("scikit-learn", "cloudpickle", "skops", "numpy", "pandas")]


def customers(rows: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "age": rng.uniform(18, 80, rows),
            "plan": rng.choice(["basic", "plus", "pro"], rows),
            "calls": rng.integers(0, 10, rows),
        }
    )


def churn_pipeline() -> Pipeline:
    train = customers(300)
    numbers = make_pipeline(SimpleImputer(), StandardScaler())
    preprocess = make_column_transformer(
        (numbers, ["age", "calls"]), (OneHotEncoder(handle_unknown="ignore"), ["plan"])
    )
    labels = ((train["age"] > 45) ^ (train["plan"] == "basic")).astype(int)
    return make_pipeline(preprocess, LogisticRegression(max_iter=500)).fit(train, labels)


@pytest.fixture(scope="module")
def pipeline() -> Pipeline:
    return churn_pipeline()


def save(directory: Path, model: Any, **options: Any) -> Path:
    """``mlflow.sklearn.save_model`` as a team calls it: a signature and an input example from the training data,
    and its requirements pinned. Left to infer them, MLflow starts a Python process per save to see what the model
    imports (seconds each); the loader reads none of the environment files either way."""
    example = customers(3, seed=1)
    signature = infer_signature(example, model.predict(example))
    options.setdefault("serialization_format", "cloudpickle")
    options.setdefault("pip_requirements", REQUIREMENTS)
    mlflow.sklearn.save_model(model, directory, signature=signature, input_example=example, **options)
    return directory


def upload(
    served: Served, directory: Path, prefix: str, *, first: str | None = None, last: str | None = None
) -> list[dict[str, int]]:
    """Each file of the directory as its own S3 event, as listed but for the one sent ``first`` or ``last``."""
    files = sorted(str(path.relative_to(directory)) for path in directory.rglob("*") if path.is_file())
    rest = [name for name in files if name not in (first, last)]
    ordered = [*([first] if first else []), *rest, *([last] if last else [])]
    loader = served.loader
    return [loader.invoke(loader.put(f"{prefix}{name}", (directory / name).read_bytes())) for name in ordered]


def pyfunc_answers(directory: Path, frame: pd.DataFrame) -> list[Any]:
    answers = mlflow.pyfunc.load_model(str(directory)).predict(frame)
    return np.asarray(answers).tolist()


def csv_body(frame: pd.DataFrame) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(frame.columns)
    writer.writerows(frame.itertuples(index=False))
    return buffer.getvalue()


def scoring_bodies(frame: pd.DataFrame) -> dict[str, Any]:
    records = json.loads(frame.to_json(orient="records"))
    return {
        "dataframe_split": {"dataframe_split": json.loads(frame.to_json(orient="split"))},
        "dataframe_records": {"dataframe_records": records},
        "instances": {"instances": records},
        "inputs": {"inputs": {name: json.loads(frame[name].to_json(orient="values")) for name in frame.columns}},
        "params": {"dataframe_records": records, "params": {"threshold": 0.5}},
    }


@pytest.mark.parametrize(
    "first, last",
    [("MLmodel", "input_example.json"), (None, "model.pkl"), ("model.pkl", "MLmodel")],
    ids=["MLmodel-first", "model-file-last", "MLmodel-last"],
)
def test_an_mlflow_directory_in_any_upload_order_answers_every_form_as_pyfunc_does(
    served: Served, pipeline: Pipeline, tmp_path: Path, first: str | None, last: str
) -> None:
    directory = save(tmp_path / "model", pipeline)
    summaries = upload(served, directory, "churn/1/", first=first, last=last)
    assert all(summary["failed"] == summary["retry"] == summary["rejected"] == 0 for summary in summaries), summaries
    recorded = served.metadata_file("churn")
    assert recorded["source_key"] == "churn/1/MLmodel"
    assert recorded["validation"]["serving_check"]["checked_on"] == "input_example.json"

    frame = customers(25, seed=7)
    expected = pyfunc_answers(directory, frame)
    for form, body in scoring_bodies(frame).items():
        assert served.ok("POST", "/v2/models/churn/invocations", body) == {"predictions": expected}, form
    csv_answer = served.handler.lambda_handler(
        _csv_event(served, "/v2/models/churn/versions/1/invocations", csv_body(frame)), None
    )
    assert csv_answer["statusCode"] == 200, csv_answer
    assert json.loads(csv_answer["body"]) == {"predictions": expected}
    v1 = served.ok("POST", "/v1/models/churn:predict", {"instances": json.loads(frame.to_json(orient="records"))})
    assert v1["predictions"] == expected
    inputs = [
        {"name": "age", "shape": [25], "datatype": "FP64", "data": frame["age"].tolist()},
        {"name": "plan", "shape": [25], "datatype": "BYTES", "data": frame["plan"].tolist()},
        {"name": "calls", "shape": [25], "datatype": "INT64", "data": frame["calls"].tolist()},
    ]
    v2 = served.ok("POST", "/v2/models/churn/infer", {"inputs": inputs})
    assert v2["outputs"][0]["data"] == expected


def _csv_event(served: Served, path: str, text: str) -> dict[str, Any]:
    from tests.support.inference import event_for

    event = event_for("http", "POST", path, None, raw_body=text)
    event["headers"]["content-type"] = "text/csv"
    return event


def test_the_mlmodel_signature_becomes_the_model_signature_and_metadata_records_mlflow(
    served: Served, pipeline: Pipeline, tmp_path: Path
) -> None:
    directory = save(tmp_path / "model", pipeline, mlflow_model=Model(run_id="0a1b2c3d4e5f"))
    upload(served, directory, "churn/2/")

    metadata = served.ok("GET", "/v2/models/churn/versions/2")
    described = {tensor["name"]: tensor["datatype"] for tensor in metadata["inputs"]}
    assert described == {"age": "FP64", "plan": "BYTES", "calls": "INT64"}
    recorded = served.metadata_file("churn", 2)
    mlmodel = yaml.safe_load((directory / "MLmodel").read_text())
    assert recorded["signature"]["datatype_source"] == "mlflow"
    assert recorded["mlflow"]["run_id"] == "0a1b2c3d4e5f"
    assert recorded["mlflow"]["model_uuid"] == mlmodel["model_uuid"]
    assert recorded["mlflow"]["sklearn_version"] == mlmodel["flavors"]["sklearn"]["sklearn_version"]
    assert recorded["mlflow"]["serialization_format"] == "cloudpickle"
    assert recorded["source_key"] == "churn/2/MLmodel"
    assert recorded["validation"]["serving_check"]["checked_on"] == "input_example.json"
    assert metadata["parameters"]["sha256"] == recorded["sha256"]


def test_a_skops_directory_serves_when_the_operator_trusts_its_types(
    served: Served, pipeline: Pipeline, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SKOPS_TRUSTED_TYPES", "numpy.dtype")  # the loader's environment, as Terraform sets it
    served.handler.configure(settings(served.loader.model_dir, skops_trusted_types=("numpy.dtype",)))
    directory = save(tmp_path / "model", pipeline, serialization_format="skops", skops_trusted_types=["numpy.dtype"])
    upload(served, directory, "churn/3/")

    frame = customers(10, seed=3)
    body = {"dataframe_split": json.loads(frame.to_json(orient="split"))}
    answer = served.ok("POST", "/v2/models/churn/versions/3/invocations", body)
    assert answer == {"predictions": pyfunc_answers(directory, frame)}
    assert served.metadata_file("churn", 3)["file"] == "model.skops"


def test_the_types_an_mlmodel_trusts_never_widen_what_loads(served: Served, pipeline: Pipeline, tmp_path: Path) -> None:
    directory = save(tmp_path / "model", pipeline, serialization_format="skops", skops_trusted_types=["numpy.dtype"])
    upload(served, directory, "churn/4/")

    status, answer = served.call("GET", "/v2/models/churn/versions/4/ready")
    assert status == 503
    assert "untrusted types" in answer["error"] and "numpy.dtype" in answer["error"]
    assert "SKOPS_TRUSTED_TYPES" in answer["error"], "the refusal names the setting that would allow them"


def test_an_mlflow_directory_that_trusts_its_own_payload_runs_no_code(
    served: Served, pipeline: Pipeline, tmp_path: Path
) -> None:
    directory = save(tmp_path / "model", pipeline, serialization_format="skops", skops_trusted_types=["numpy.dtype"])
    marker = tmp_path / "marker"
    (directory / "model.skops").write_bytes(payload_skops(marker))
    mlmodel = yaml.safe_load((directory / "MLmodel").read_text())
    mlmodel["flavors"]["sklearn"]["skops_trusted_types"] = DANGEROUS_TYPES
    (directory / "MLmodel").write_text(yaml.safe_dump(mlmodel))
    upload(served, directory, "churn/5/")

    status, answer = served.call("GET", "/v2/models/churn/versions/5/ready")
    assert status == 503 and MARKER_TYPE in answer["error"]
    assert not marker.exists(), "the loader ran the upload's code"


def test_predict_fn_predict_proba_answers_probabilities_as_pyfunc_does(
    served: Served, pipeline: Pipeline, tmp_path: Path
) -> None:
    directory = save(tmp_path / "model", pipeline, pyfunc_predict_fn="predict_proba")
    upload(served, directory, "churn/1/")

    frame = customers(12, seed=5)
    answer = served.ok("POST", "/v2/models/churn/invocations", {"dataframe_records": frame.to_dict("records")})
    expected = pyfunc_answers(directory, frame)
    assert np.allclose(answer["predictions"], expected, rtol=1e-6, atol=1e-6)
    assert np.asarray(answer["predictions"]).shape == (12, 2)


def test_a_directory_that_is_not_scikit_learn_is_refused_with_the_reason(
    served: Served, pipeline: Pipeline, tmp_path: Path
) -> None:
    directory = save(tmp_path / "model", pipeline)
    mlmodel = yaml.safe_load((directory / "MLmodel").read_text())
    custom = {"loader_module": "mlflow.pyfunc.model", "python_model": "python_model.pkl"}
    mlmodel["flavors"] = {"python_function": custom}
    (directory / "MLmodel").write_text(yaml.safe_dump(mlmodel))
    summaries = upload(served, directory, "churn/1/")
    assert sum(summary["failed"] for summary in summaries) == 1, summaries

    status, answer = served.call("GET", "/v2/models/churn/versions/1/ready")
    assert status == 503
    assert "only the sklearn flavor is served" in answer["error"]
    index = served.ok("POST", "/v2/repository/index", {})
    assert index[0]["state"] == "UNAVAILABLE" and "python_function" in index[0]["reason"]


def test_deleting_mlmodel_removes_the_version(served: Served, pipeline: Pipeline, tmp_path: Path) -> None:
    directory = save(tmp_path / "model", pipeline)
    upload(served, directory, "churn/1/")
    upload(served, directory, "churn/2/")
    assert "model.pkl" in served.loader.files_in("churn", 2)

    assert served.loader.invoke(served.loader.delete("churn/2/MLmodel")) == counts(deleted=1)

    assert served.loader.files_in("churn", 2) == []
    assert served.ok("GET", "/v2/models/churn")["versions"] == ["1"]
    assert served.call("GET", "/v2/models/churn/versions/2/ready")[0] == 404


def test_a_model_file_waits_for_its_mlmodel_beside_mlflow_files(
    served: Served, pipeline: Pipeline, tmp_path: Path
) -> None:
    directory = save(tmp_path / "model", pipeline)
    for name in ("conda.yaml", "model.pkl"):
        summary = served.loader.invoke(served.loader.put(f"churn/1/{name}", (directory / name).read_bytes()))
        assert summary == counts(skipped=1)
    assert served.call("GET", "/v2/models/churn/ready")[0] == 404


@pytest.mark.parametrize("policy, served_too", [("serve", True), ("reject", False)])
def test_the_version_policy_applies_to_the_sklearn_version_mlmodel_states(
    served: Served, pipeline: Pipeline, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, policy: str, served_too: bool
) -> None:
    from lambdas.loader import handler

    monkeypatch.setenv("MODEL_VERSION_POLICY", policy)
    handler.settings.cache_clear()
    directory = save(tmp_path / "model", pipeline)
    mlmodel = yaml.safe_load((directory / "MLmodel").read_text())
    mlmodel["flavors"]["sklearn"]["sklearn_version"] = "1.6.1"
    (directory / "MLmodel").write_text(yaml.safe_dump(mlmodel))
    upload(served, directory, "churn/1/")

    status, answer = served.call("GET", "/v2/models/churn/versions/1")
    if served_too:
        assert status == 200
        assert answer["parameters"]["trained_with"]["scikit-learn"] == "1.6.1"
        assert answer["parameters"]["version_mismatch"][0].startswith("scikit-learn 1.6.1 (served by")
    else:
        assert status == 503
        assert "MODEL_VERSION_POLICY=reject" in answer["error"]


def _save_with_signature(directory: Path, model: Any, signature: Any, example: Any) -> Path:
    options = {"serialization_format": "cloudpickle", "pip_requirements": REQUIREMENTS}
    mlflow.sklearn.save_model(model, directory, signature=signature, input_example=example, **options)
    return directory


def test_a_column_the_mlmodel_signature_does_not_require_may_be_left_out(
    served: Served, pipeline: Pipeline, tmp_path: Path
) -> None:
    from mlflow.models.signature import ModelSignature
    from mlflow.types import ColSpec, Schema

    schema = Schema([ColSpec("double", "age"), ColSpec("string", "plan"), ColSpec("long", "calls", required=False)])
    signature = ModelSignature(inputs=schema, outputs=Schema([ColSpec("long")]))
    upload(served, _save_with_signature(tmp_path / "model", pipeline, signature, customers(3, seed=1)), "churn/1/")

    frame = customers(8, seed=4)
    without_calls = frame.drop(columns=["calls"])
    answer = served.ok("POST", "/v2/models/churn/invocations", {"dataframe_records": without_calls.to_dict("records")})
    expected = pipeline.predict(without_calls.assign(calls=np.nan)[COLUMNS])  # all its values missing: imputed
    assert answer == {"predictions": expected.tolist()}
    complete = served.ok("POST", "/v2/models/churn/invocations", {"dataframe_records": frame.to_dict("records")})
    assert complete == {"predictions": pipeline.predict(frame).tolist()}
    status, refused = served.call("POST", "/v2/models/churn/invocations", {"dataframe_records": [{"age": 30.0}]})
    assert status == 400 and "missing column 'plan'" in refused["error"]


def test_params_are_checked_against_the_mlmodel_params_schema(
    served: Served, pipeline: Pipeline, tmp_path: Path
) -> None:
    from mlflow.models.signature import ModelSignature
    from mlflow.types import ParamSchema, ParamSpec

    base = infer_signature(customers(3, seed=1), pipeline.predict(customers(3, seed=1)))
    params = ParamSchema([ParamSpec("threshold", "double", 0.5), ParamSpec("tags", "string", ["a"], shape=(-1,))])
    signature = ModelSignature(inputs=base.inputs, outputs=base.outputs, params=params)
    upload(served, _save_with_signature(tmp_path / "model", pipeline, signature, customers(3, seed=1)), "churn/1/")
    records = customers(4, seed=2).to_dict("records")
    expected = {"predictions": pipeline.predict(customers(4, seed=2)).tolist()}

    assert served.ok("POST", "/v2/models/churn/invocations", {"dataframe_records": records}) == expected
    good = {"dataframe_records": records, "params": {"threshold": 0.7, "tags": ["x", "y"]}}
    assert served.ok("POST", "/v2/models/churn/invocations", good) == expected
    for sent, said in [
        ({"nope": 1}, "unknown param 'nope'"),
        ({"threshold": "high"}, "param 'threshold' takes double"),
        ({"threshold": True}, "param 'threshold' takes double"),
        ({"tags": "x"}, "param 'tags' takes a list"),
    ]:
        status, answer = served.call(
            "POST", "/v2/models/churn/invocations", {"dataframe_records": records, "params": sent}
        )
        assert status == 400 and said in answer["error"], (sent, answer)


def test_a_model_fitted_on_an_array_takes_the_columns_its_mlmodel_signature_names(
    served: Served, tmp_path: Path
) -> None:
    from sklearn.datasets import load_iris

    features, target = load_iris(return_X_y=True)
    model = LogisticRegression(max_iter=500).fit(features, target)  # no feature_names_in_
    names = ["sepal_length", "sepal_width", "petal_length", "petal_width"]
    example = pd.DataFrame(features[:3], columns=names)
    signature = infer_signature(example, model.predict(features[:3]))
    upload(served, _save_with_signature(tmp_path / "model", model, signature, example), "flowers/1/")

    frame = pd.DataFrame(features[::15], columns=names)
    expected = model.predict(features[::15]).tolist()
    answer = served.ok("POST", "/v2/models/flowers/invocations", {"dataframe_records": frame.to_dict("records")})
    assert answer == {"predictions": expected}
    inputs = [{"name": n, "shape": [len(frame)], "datatype": "FP64", "data": frame[n].tolist()} for n in names]
    assert served.ok("POST", "/v2/models/flowers/infer", {"inputs": inputs})["outputs"][0]["data"] == expected
    metadata = served.ok("GET", "/v2/models/flowers")
    assert [tensor["name"] for tensor in metadata["inputs"]] == names
