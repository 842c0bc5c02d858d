"""The inference function's test harness: requests in each event format, the iris models, and models written into a
repository directory as the loader writes them."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import joblib
import numpy as np
from sklearn.datasets import load_iris
from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor
from sklearn.linear_model import LogisticRegression

from lambdas.common.metadata import METADATA_FILE, Validation, VersionMetadata
from lambdas.common.repository import ONNX_FILE, version_dir
from lambdas.common.settings import Settings
from lambdas.common.signature import Signature, fallback
from lambdas.loader.onnx_convert import convert, generated_probe
from tests.support.events import load_event

FORMATS = ("http", "http_named_stage", "rest", "function_url")


def event_for(
    event_format: str,
    method: str,
    path: str,
    body: Any = None,
    *,
    content_type: str | None = "application/json",
    raw_body: str | None = None,
    base64_body: bool | None = None,
) -> dict[str, Any]:
    """A recorded event of the given format, rewritten to carry this request."""
    event = load_event(
        {
            "http": "http_post",
            "http_named_stage": "http_get_named_stage",
            "rest": "rest_post",
            "function_url": "function_url_post",
        }[event_format]
    )
    text = raw_body if raw_body is not None else (None if body is None else json.dumps(body))
    encode = event["isBase64Encoded"] if base64_body is None else base64_body
    if text is not None and encode:
        event["body"] = base64.b64encode(text.encode()).decode()
        event["isBase64Encoded"] = True
    else:
        event["body"] = text
        event["isBase64Encoded"] = False
    if event_format == "rest":
        headers = {k: v for k, v in event["headers"].items() if k != "Content-Type"}
        if content_type is not None:
            headers["Content-Type"] = content_type
        event["headers"] = headers
        event["multiValueHeaders"] = {k: [v] for k, v in headers.items()}
        event["httpMethod"] = event["requestContext"]["httpMethod"] = method
        event["path"] = path
        event["pathParameters"] = {"proxy": path.lstrip("/")}
        event["requestContext"]["path"] = f"/{event['requestContext']['stage']}{path}"
    else:
        headers = {k: v for k, v in event["headers"].items() if k not in ("content-type", "content-length")}
        if content_type is not None:
            headers["content-type"] = content_type
        event["headers"] = headers
        stage = event["requestContext"]["stage"]
        raw_path = path if stage == "$default" else f"/{stage}{path}"
        event["rawPath"] = event["requestContext"]["http"]["path"] = raw_path
        event["requestContext"]["http"]["method"] = method
    return event


def response_json(response: dict[str, Any]) -> Any:
    body = response["body"]
    if response.get("isBase64Encoded"):
        body = base64.b64decode(body).decode()
    return json.loads(body)


def publish(
    model_dir: Path, name: str, version: int, model: Any, suffix: str = ".joblib", *, onnx: bytes | None = None
) -> Path:
    """Write a model the way the loader does: a temporary file beside the target, then an atomic rename; with
    ``onnx``, its conversion goes in first, and without one an old conversion goes, as the loader does it."""
    directory = version_dir(model_dir, name, version)
    directory.mkdir(parents=True, exist_ok=True)
    if onnx is not None:
        (directory / ".model.onnx.tmp").write_bytes(onnx)
        (directory / ".model.onnx.tmp").replace(directory / ONNX_FILE)
    else:
        (directory / ONNX_FILE).unlink(missing_ok=True)
    target = directory / f"model{suffix}"
    temporary = directory / f".model{suffix}.tmp"
    if isinstance(model, bytes):
        temporary.write_bytes(model)
    else:
        joblib.dump(model, temporary)
    temporary.replace(target)
    return target


def onnx_conversion(model: Any) -> bytes:
    """The conversion the loader would publish for ``model`` (it must convert and answer alike)."""
    return convert(model, model.n_features_in_, generated_probe(model, model.n_features_in_)).onnx


def publish_signed(model_dir: Path, name: str, version: int, model: Any) -> Path:
    """Write a model with the signature the loader would give it (metadata.json first, as the loader does)."""
    from lambdas.loader.signing import sign

    directory = version_dir(model_dir, name, version)
    directory.mkdir(parents=True, exist_ok=True)
    signature = sign(model, None, None).signature
    write_metadata(model_dir, name, version, signature=signature)
    return publish(model_dir, name, version, model)


def write_metadata(
    model_dir: Path, name: str, version: int, *, signature: Signature | None = None, feature_count: int | None = None
) -> VersionMetadata:
    """The record the loader would write for a model published by these helpers (a joblib file, no fast path)."""
    if signature is None:
        signature = fallback(feature_count, None, "BYTES", None, has_proba=False)
    record = VersionMetadata(
        name=name,
        version=version,
        file="model.joblib",
        source_bucket="models",
        source_key=f"{name}/{version}/model.joblib",
        model_key=f"{name}/{version}/model.joblib",
        size=0,
        sha256="",
        signature=signature,
        validation=Validation(estimator="written by a test"),
        feature_count=feature_count,
    )
    directory = version_dir(model_dir, name, version)
    directory.mkdir(parents=True, exist_ok=True)
    (directory / METADATA_FILE).write_bytes(record.to_json())
    return record


def response_header(response: dict[str, Any], name: str) -> str | None:
    """A response header from either the single-value or the multi-value map."""
    for key, value in (response.get("headers") or {}).items():
        if key.lower() == name.lower():
            return str(value)
    for key, values in (response.get("multiValueHeaders") or {}).items():
        if key.lower() == name.lower():
            return ", ".join(values)
    return None


def v2_request(data: Any, shape: list[int], datatype: str = "FP64", **extra: Any) -> dict[str, Any]:
    return {"inputs": [{"name": "input-0", "shape": shape, "datatype": datatype, "data": data}], **extra}


SETOSA = [5.1, 3.5, 1.4, 0.2]
VIRGINICA = [6.7, 3.0, 5.2, 2.3]
Invoke = Callable[[dict[str, Any]], dict[str, Any]]


@dataclass(frozen=True)
class TrainedModels:
    features: np.ndarray
    logistic: Any
    forest: Any
    named_labels: Any  # classes are strings
    regressor: Any


def train_models() -> TrainedModels:
    """Tiny iris models: a logistic regression, a forest, one with string labels and a regressor."""
    features, target = load_iris(return_X_y=True)
    names = np.asarray(["setosa", "versicolor", "virginica"])[target]
    return TrainedModels(
        features=features,
        logistic=LogisticRegression(max_iter=500).fit(features, target),
        forest=RandomForestClassifier(n_estimators=5, max_depth=3, random_state=0).fit(features, target),
        named_labels=LogisticRegression(max_iter=500).fit(features, names),
        regressor=RandomForestRegressor(n_estimators=3, max_depth=3, random_state=0).fit(
            features[:, :3], features[:, 3]
        ),
    )


def settings(model_dir: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "model_dir": model_dir,
        "model_prefix": "",
        "cache_max_bytes": 64 * 1024 * 1024,
        "refresh_seconds": 5.0,
        "max_request_bytes": 6 * 1024 * 1024,
        "allowed_suffixes": frozenset({".joblib", ".pkl", ".skops"}),
    }
    values.update(overrides)
    return Settings(**values)
