"""What each route does, in plain terms: requests in as parsed JSON, answers out as dicts. No Lambda knowledge."""

from __future__ import annotations

from typing import Any

from lambdas.common.repository import list_models, parse_version
from lambdas.common.settings import Settings
from lambdas.inference.cache import LoadedModel, ModelCache
from lambdas.inference.errors import BadRequest, ModelNotFound
from lambdas.inference.observability import count
from lambdas.inference.tensors import Array, instances, json_values, output_tensor, v2_input

SERVER_NAME = "serverless-sklearn"
SERVER_VERSION = "0.1.0"
PREDICT = "predict"
PREDICT_PROBA = "predict_proba"
OUTPUT_NAMES = (PREDICT, PREDICT_PROBA)
_DEFAULT_OUTPUTS = (PREDICT,)
# Model messages can be long (they may quote the input); callers get the start of it.
_MAX_REASON_CHARS = 300


class InferenceService:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.cache = ModelCache(
            settings.model_dir,
            max_bytes=settings.cache_max_bytes,
            refresh_seconds=settings.refresh_seconds,
            allowed_suffixes=settings.allowed_suffixes,
            serve_onnx=settings.onnx_fast_path,
            on_event=count,
        )

    # --- Open Inference Protocol (KServe V2) ---

    def server_metadata(self) -> dict[str, Any]:
        return {"name": SERVER_NAME, "version": SERVER_VERSION, "extensions": ["model_repository"]}

    def server_ready(self) -> bool:
        return self.settings.model_dir.is_dir()

    def model(self, name: str, version: str | None = None) -> LoadedModel:
        """The model a path names; a version that is not a positive integer names no model."""
        if version is None:
            return self.cache.get(name)
        number = parse_version(version)
        if number is None:
            raise ModelNotFound(name, version)
        return self.cache.get(name, number)

    def v2_metadata(self, name: str, version: str | None) -> dict[str, Any]:
        model = self.model(name, version)
        features = model.feature_count
        inputs = [
            {"name": "input-0", "datatype": "FP64", "shape": [-1, features]}
            if features is not None
            else {"name": "input-0", "datatype": "BYTES", "shape": [-1]}
        ]
        outputs = [{"name": PREDICT, "datatype": model.label_datatype, "shape": [-1]}]
        if model.has_proba:
            outputs.append({"name": PREDICT_PROBA, "datatype": "FP64", "shape": [-1, model.class_count]})
        return {
            "name": name,
            "versions": [str(v) for v in self.cache.versions(name)],
            "platform": model.runner.platform,
            "inputs": inputs,
            "outputs": outputs,
        }

    def v2_infer(self, name: str, version: str | None, request: dict[str, Any]) -> dict[str, Any]:
        request_id = request.get("id")
        if "id" in request and not isinstance(request_id, str):
            raise BadRequest("'id' must be a string")
        if "parameters" in request and not isinstance(request["parameters"], dict):
            raise BadRequest("'parameters' must be an object")
        outputs = _requested_outputs(request["outputs"]) if "outputs" in request else _DEFAULT_OUTPUTS
        inputs = request.get("inputs")
        if not isinstance(inputs, list) or len(inputs) != 1:
            raise BadRequest("'inputs' must be a list holding exactly one tensor")
        model = self.model(name, version)
        features = v2_input(inputs[0], model.feature_count)
        response: dict[str, Any] = {"model_name": name, "model_version": str(model.version)}
        if request_id is not None:
            response["id"] = request_id
        response["outputs"] = [output_tensor(output, _predict(model, features, output)) for output in outputs]
        return response

    def repository_index(self, request: dict[str, Any]) -> list[dict[str, Any]]:
        ready_only = request.get("ready", False)
        if not isinstance(ready_only, bool):
            raise BadRequest("'ready' must be true or false")
        tried = self.cache.cached()
        index = []
        for name, versions in list_models(self.settings.model_dir).items():
            for version in versions:
                entry: dict[str, Any] = {"name": name, "version": str(version)}
                if (name, version) not in tried:
                    entry.update(state="UNKNOWN", reason="not loaded by this instance yet")
                elif tried[(name, version)] is None:
                    entry.update(state="READY", reason="")
                else:
                    entry.update(state="UNAVAILABLE", reason=tried[(name, version)])
                if entry["state"] == "READY" or not ready_only:
                    index.append(entry)
        return index

    # --- KServe V1 and the original format ---

    def v1_models(self) -> dict[str, Any]:
        return {"models": sorted(list_models(self.settings.model_dir))}

    def v1_predict(self, name: str, request: dict[str, Any]) -> dict[str, Any]:
        model = self.model(name)
        features = instances(request.get("instances"), model.feature_count, "instances")
        return {"predictions": json_values(_predict(model, features, PREDICT))}

    def original_infer(self, request: dict[str, Any]) -> dict[str, Any]:
        name = request.get("name")
        if not isinstance(name, str):
            raise BadRequest("'name' must be the model name as a string")
        model = self.model(name, _version_field(request))
        features = instances(request.get("inputs"), model.feature_count, "inputs")
        return {"predicted_label": json_values(_predict(model, features, PREDICT))}


def _requested_outputs(outputs: Any) -> tuple[str, ...]:
    if not isinstance(outputs, list):
        raise BadRequest("'outputs' must be a list of {\"name\": ...} objects")
    names = []  # none asked for means predict only
    for output in outputs:
        name = output.get("name") if isinstance(output, dict) else None
        if name not in OUTPUT_NAMES:
            raise BadRequest(f'each output must be {{"name": ...}} with a name in {list(OUTPUT_NAMES)}')
        if not isinstance(output.get("parameters", {}), dict):
            raise BadRequest("output 'parameters' must be an object")
        if name not in names:
            names.append(name)
    return tuple(names) or _DEFAULT_OUTPUTS


def _version_field(request: dict[str, Any]) -> str | None:
    if "version" not in request:
        return None
    version = request["version"]
    if isinstance(version, int) and not isinstance(version, bool):
        return str(version)
    if isinstance(version, str):
        return version
    raise BadRequest("'version' must be a positive integer")


def _predict(model: LoadedModel, features: Array, output: str) -> Array:
    if output == PREDICT_PROBA and not model.has_proba:
        raise BadRequest(f"model {model.name!r} version {model.version} does not provide predict_proba")
    try:
        answer: Array = getattr(model.runner, output)(features)
    except (ValueError, TypeError, AttributeError) as error:  # input the estimator cannot take, e.g. numbers for text
        raise BadRequest(f"the model rejected the input: {str(error)[:_MAX_REASON_CHARS]}") from None
    return answer
