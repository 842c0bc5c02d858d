"""Requests as the inference function receives them: API Gateway HTTP API (payload 2.0) events."""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from typing import Any

import numpy as np

from tests.support.events import load_event

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


def v2_binary_infer_event(model: str, rows: list[list[float]]) -> dict[str, Any]:
    """The same request with the binary tensor extension, as tritonclient sends it: the rows as little-endian FP64
    bytes after the JSON header, and the labels asked back as bytes."""
    data = np.asarray(rows, dtype="<f8").tobytes()
    header = {
        "inputs": [
            {
                "name": INPUT_NAME,
                "shape": [len(rows), len(rows[0])],
                "datatype": "FP64",
                "parameters": {"binary_data_size": len(data)},
            }
        ],
        "outputs": [{"name": "predict", "parameters": {"binary_data": True}}],
    }
    text = json.dumps(header).encode()
    event = http_api_event("POST", f"/v2/models/{model}/infer")
    event["body"] = base64.b64encode(text + data).decode()
    event["isBase64Encoded"] = True
    event["headers"].update(
        {"inference-header-content-length": str(len(text)), "content-type": "application/octet-stream"}
    )
    return event


def v2_metadata_event(model: str) -> dict[str, Any]:
    return http_api_event("GET", f"/v2/models/{model}")


def answer_body(response: Mapping[str, Any]) -> dict[str, Any]:
    """The JSON body of a handler's 200 answer (a binary answer's outputs decoded into ``data``); ValueError with
    the status and body otherwise."""
    if response.get("statusCode") != 200:
        raise ValueError(f"status {response.get('statusCode')}: {str(response.get('body'))[:300]}")
    if not response.get("isBase64Encoded"):
        body: dict[str, Any] = json.loads(response["body"])
        return body
    raw = base64.b64decode(response["body"])
    length = int(response["headers"]["Inference-Header-Content-Length"])
    header: dict[str, Any] = json.loads(raw[:length])
    offset = length
    for output in header["outputs"]:
        size = output.get("parameters", {}).get("binary_data_size")
        if size is not None:
            dtype = {"INT64": "<i8", "FP64": "<f8", "FP32": "<f4", "INT32": "<i4", "BOOL": "?"}[output["datatype"]]
            output["data"] = np.frombuffer(raw[offset : offset + size], dtype=dtype).tolist()
            offset += size
    return header


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
