"""The loader's test harness: trained models as uploaded bytes, the moto bucket's name, and a Loader that uploads,
builds the matching S3 records and invokes the real handler."""

from __future__ import annotations

import hashlib
import io
import itertools
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import skops.io
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression
from sklearn.tree import DecisionTreeClassifier

from lambdas.common.repository import version_dir
from tests.support.context import loader_context
from tests.support.events import s3_event, s3_record

BUCKET = "models"
FAKE_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SECURITY_TOKEN": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}
# Variables of the developer's shell that would point the loader elsewhere.
UNSET = ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "MODEL_PREFIX", "ALLOWED_MODEL_FORMATS")


class HandmadeClassifier(ClassifierMixin, BaseEstimator):
    """An estimator from outside scikit-learn: skops must refuse to load it without an explicit trust list."""

    def predict(self, features: Any) -> Any:
        return np.zeros(len(features))


@dataclass(frozen=True)
class Models:
    logistic: bytes
    tree: bytes
    logistic_skops: bytes
    untrusted_skops: bytes
    no_predict: bytes


def _joblib_bytes(value: Any) -> bytes:
    buffer = io.BytesIO()
    joblib.dump(value, buffer)
    return buffer.getvalue()


def make_models() -> Models:
    features, labels = load_iris(return_X_y=True)
    logistic = LogisticRegression(max_iter=500).fit(features, labels)
    tree = DecisionTreeClassifier(max_depth=3, random_state=0).fit(features, labels)
    return Models(
        logistic=_joblib_bytes(logistic),
        tree=_joblib_bytes(tree),
        logistic_skops=skops.io.dumps(logistic),
        untrusted_skops=skops.io.dumps(HandmadeClassifier()),
        no_predict=_joblib_bytes({"weights": [0.1, 0.2], "bias": 1.0}),
    )


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class Loader:
    """Uploads to the moto bucket, builds the matching S3 records, and invokes the real handler."""

    def __init__(self, s3: Any, model_dir: Path) -> None:
        self.s3 = s3
        self.model_dir = model_dir
        self._sequence = itertools.count(0x10000)

    def next_sequencer(self) -> str:
        return f"0069A1B2C3{next(self._sequence):08X}"

    def put(self, key: str, body: bytes, *, sequencer: bool = True, **extra: Any) -> dict[str, Any]:
        response = self.s3.put_object(Bucket=BUCKET, Key=key, Body=body, **extra)
        return s3_record(
            "ObjectCreated:Put",
            key,
            version_id=response.get("VersionId"),
            etag=response["ETag"],
            size=len(body),
            sequencer=self.next_sequencer() if sequencer else None,
        )

    def delete(self, key: str, *, version_id: str | None = None, sequencer: bool = True) -> dict[str, Any]:
        extra = {"VersionId": version_id} if version_id else {}
        response = self.s3.delete_object(Bucket=BUCKET, Key=key, **extra)
        name = "ObjectRemoved:DeleteMarkerCreated" if response.get("DeleteMarker") else "ObjectRemoved:Delete"
        return s3_record(
            name,
            key,
            version_id=response.get("VersionId"),
            sequencer=self.next_sequencer() if sequencer else None,
        )

    def invoke(self, *records: dict[str, Any]) -> dict[str, int]:
        from lambdas.loader import handler

        return handler.lambda_handler(s3_event(*records), loader_context())

    def model_file(self, name: str, version: int = 1) -> Path | None:
        directory = version_dir(self.model_dir, name, version)
        files = sorted(directory.glob("model.*")) if directory.is_dir() else []
        return files[0] if files else None

    def files_in(self, name: str, version: int = 1) -> list[str]:
        directory = version_dir(self.model_dir, name, version)
        return sorted(p.name for p in directory.iterdir()) if directory.is_dir() else []


def counts(**nonzero: int) -> dict[str, int]:
    """The handler's summary with every other count zero."""
    summary = dict.fromkeys(("published", "deleted", "skipped", "rejected", "failed", "retry"), 0)
    summary.update(nonzero)
    return summary
