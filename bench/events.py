"""Requests as the inference function receives them: API Gateway HTTP API (payload 2.0) events."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from tests.helpers import load_event

INPUT_NAME = "input-0"
ONNX = "onnxruntime"
SKLEARN = "scikit-learn"


def http_api_event(method: str, path: str, body: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The recorded HTTP API event (tests/events/http_post.json) rewritten to carry this request."""
    event = load_event("http_post")
    event["rawPath"] = path
    event["requestContext"]["http"]["method"] = method
    event["requestContext"]["http"]["path"] = path
    if body is None:
        event["body"] = None
        event["headers"].pop("content-length", None)
        event["headers"].pop("content-type", None)
    else:
        event["body"] = json.dumps(body)
        event["headers"]["content-length"] = str(len(event["body"].encode()))
    return event


def v2_request(rows: list[list[float]]) -> dict[str, Any]:
    """A V2 inference request body for rows of numbers, nested as clients usually send them."""
    return {"inputs": [{"name": INPUT_NAME, "shape": [len(rows), len(rows[0])], "datatype": "FP64", "data": rows}]}


def v2_infer_event(model: str, rows: list[list[float]]) -> dict[str, Any]:
    return http_api_event("POST", f"/v2/models/{model}/infer", v2_request(rows))


def v2_metadata_event(model: str) -> dict[str, Any]:
    return http_api_event("GET", f"/v2/models/{model}")


def answer_body(response: Mapping[str, Any]) -> dict[str, Any]:
    """The JSON body of a handler's 200 answer; ValueError with the status and body otherwise."""
    if response.get("statusCode") != 200:
        raise ValueError(f"status {response.get('statusCode')}: {str(response.get('body'))[:300]}")
    body: dict[str, Any] = json.loads(response["body"])
    return body


def predict_output(body: Mapping[str, Any]) -> list[Any]:
    """The data of a V2 answer's ``predict`` output; ValueError when it has none."""
    for output in body.get("outputs", []):
        if isinstance(output, Mapping) and output.get("name") == "predict":
            return list(output["data"])
    raise ValueError(f"no predict output in {str(body)[:300]}")


def served_runtime(metadata: Mapping[str, Any]) -> str:
    """Which runtime a V2 model metadata answer says serves the model: ``onnxruntime`` or ``scikit-learn``.

    The field that names it is not settled, so this reads, in order: a field whose name holds ``runtime`` (at any
    depth), a field whose name holds ``onnx`` (true when ONNX serves), then the platform (``onnxruntime_onnx`` is
    KServe's name for ONNX models). A model whose metadata says nothing of either is served by scikit-learn.
    """
    runtime = _find_key(metadata, "runtime")
    if runtime is not None:
        return ONNX if "onnx" in json.dumps(runtime).lower() else SKLEARN
    onnx = _find_key(metadata, "onnx")
    if onnx is not None:
        return ONNX if onnx not in (False, None, "", "false", "none") else SKLEARN
    return ONNX if "onnx" in str(metadata.get("platform", "")).lower() else SKLEARN


def _find_key(value: Any, wanted: str) -> Any:
    """The value of the first key containing ``wanted`` (case-insensitive), breadth first; None when there is none."""
    level = [value]
    while level:
        deeper: list[Any] = []
        for item in level:
            if isinstance(item, Mapping):
                for key, child in item.items():
                    if isinstance(key, str) and wanted in key.lower():
                        return child
                deeper.extend(item.values())
            elif isinstance(item, list):
                deeper.extend(item)
        level = deeper
    return None
