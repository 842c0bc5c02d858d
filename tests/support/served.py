"""Models published by the real loader from moto S3 and asked through the inference handler."""

from __future__ import annotations

import io
import json
from types import ModuleType
from typing import Any

import joblib

from lambdas.common.repository import version_dir
from tests.support.context import inference_context
from tests.support.inference import event_for, response_json
from tests.support.loader import Loader


class Served:
    """Publishes models through the loader and asks the inference handler about them."""

    def __init__(self, loader: Loader, handler: ModuleType, runtime: str) -> None:
        self.loader = loader
        self.handler = handler
        self.runtime = runtime  # the runtime asked for: onnxruntime where a conversion was published

    def publish(self, name: str, model: Any, *, sample: Any = None, version: int | None = None) -> dict[str, Any]:
        """Upload ``model`` (and its sample) as a user would; return the handler's summary of the upload."""
        buffer = io.BytesIO()
        joblib.dump(model, buffer)
        key = f"{name}.joblib" if version is None else f"{name}/{version}/model.joblib"
        records = []
        if sample is not None:
            sample_key = f"{name}.sample.json" if version is None else f"{name}/{version}/sample.json"
            records.append(self.loader.put(sample_key, json.dumps(sample).encode()))
        records.append(self.loader.put(key, buffer.getvalue()))
        return self.loader.invoke(*records)

    def metadata_file(self, name: str, version: int = 1) -> dict[str, Any]:
        data: dict[str, Any] = json.loads(
            (version_dir(self.loader.model_dir, name, version) / "metadata.json").read_text()
        )
        return data

    def call(self, method: str, path: str, body: Any = None, *, raw_body: str | None = None) -> tuple[int, Any]:
        response = self.handler.lambda_handler(
            event_for("http", method, path, body, raw_body=raw_body), inference_context()
        )
        return response["statusCode"], response_json(response)

    def ok(self, method: str, path: str, body: Any = None, *, raw_body: str | None = None) -> Any:
        status, answer = self.call(method, path, body, raw_body=raw_body)
        assert status == 200, answer
        return answer
