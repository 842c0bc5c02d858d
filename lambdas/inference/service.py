"""What each route does, in plain terms: requests in as parsed JSON, answers out as dicts. No Lambda knowledge."""

from __future__ import annotations

import importlib.metadata
import platform
from functools import cache
from typing import Any

from lambdas.common.repository import list_models, list_refused_models, parse_version, read_metadata, version_dir
from lambdas.common.settings import Settings
from lambdas.common.signature import Signature
from lambdas.inference import binary, codecs, protocol
from lambdas.inference.binary import BinaryAnswer
from lambdas.inference.cache import LoadedModel, ModelCache
from lambdas.inference.codecs import Batch
from lambdas.inference.errors import BadRequest, ModelNotFound, ModelUnavailable
from lambdas.inference.observability import count
from lambdas.inference.protocol import PREDICT, PREDICT_PROBA
from lambdas.inference.tensors import Array, json_values, output_tensor

SERVER_NAME = "serverless-sklearn"
SERVER_VERSION = "0.1.0"
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
        return {
            "name": SERVER_NAME,
            "version": SERVER_VERSION,
            "extensions": ["model_repository"],
            "parameters": {"served_with": served_with()},
        }

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
        described = {
            "name": name,
            "versions": [str(v) for v in self.cache.versions(name)],
            "platform": model.runner.platform,
            **metadata_tensors(model.signature),
        }
        # The file's digest lets a client tell that the version it uploaded is the one served.
        recorded = read_metadata(version_dir(self.settings.model_dir, name, model.version)) or {}
        if isinstance(recorded.get("sha256"), str):
            described.setdefault("parameters", {})["sha256"] = recorded["sha256"]
        return described

    def v2_infer(self, name: str, version: str | None, body: dict[str, Any]) -> dict[str, Any] | BinaryAnswer:
        request = protocol.parse_v2(body)
        model = self.model(name, version)
        batch = codecs.decode(request, model.signature.inputs)
        response: dict[str, Any] = {"model_name": name, "model_version": str(model.version)}
        if request.id is not None:
            response["id"] = request.id
        answers = {output: _predict(model, batch, output) for output in request.outputs}
        every, named = binary.wanted(body)
        if every or named:
            return binary.answer(response, answers, every, named)
        response["outputs"] = [output_tensor(output, values) for output, values in answers.items()]
        return response

    def repository_index(self, body: dict[str, Any]) -> list[dict[str, Any]]:
        ready_only = protocol.parse_index(body)
        tried = self.cache.cached()
        index = []
        for name, versions in list_models(self.settings.model_dir).items():
            for version in versions:
                entry: dict[str, Any] = {"name": name, "version": str(version)}
                if (name, version) not in tried:
                    entry.update(state="UNKNOWN", reason="not loaded by this instance yet")
                elif tried[(name, version)] is None:
                    entry.update(state="READY", reason=_version_note(self.cache.loaded(name, version)))
                else:
                    entry.update(state="UNAVAILABLE", reason=tried[(name, version)])
                if entry["state"] == "READY" or not ready_only:
                    index.append(entry)
        if not ready_only:
            for name, refused in list_refused_models(self.settings.model_dir).items():
                for version, verdict in refused.items():
                    entry = {
                        "name": name,
                        "version": str(version),
                        "state": "UNAVAILABLE",
                        "reason": f"refused by the loader: {verdict.reason}",
                        "refused_at": verdict.refused_at,
                    }
                    if verdict.sha256 is not None:
                        entry["sha256"] = verdict.sha256
                    index.append(entry)
            index.sort(key=lambda entry: (entry["name"], int(entry["version"])))
        return index

    # --- MLflow's scoring protocol ---

    def invocations(self, name: str, version: str | None, request: protocol.ScoringRequest) -> dict[str, Any]:
        """Answered as MLflow's scoring server answers: the model's ``predict_fn`` output as ``predictions``.
        ``params`` are accepted and play no part: a scikit-learn model's predict takes none."""
        model = self.model(name, version)
        if isinstance(request.data, protocol.ColumnsRequest):
            batch = codecs.decode_columns(request.data, model.signature.inputs)
        else:
            batch = codecs.decode_rows(request.data, model.signature.inputs)
        return {"predictions": json_values(_predict(model, batch, model.signature.default_output))}

    # --- KServe V1 and the original format ---

    def v1_models(self) -> dict[str, Any]:
        return {"models": sorted(list_models(self.settings.model_dir))}

    def v1_predict(self, name: str, body: dict[str, Any]) -> dict[str, Any]:
        rows = protocol.parse_v1(body)
        model = self.model(name)
        batch = codecs.decode_rows(rows, model.signature.inputs)
        return {"predictions": json_values(_predict(model, batch, PREDICT))}

    def original_infer(self, body: dict[str, Any]) -> dict[str, Any]:
        request = protocol.parse_original(body)
        model = self.model(request.name, request.version)
        batch = codecs.decode_rows(request.rows, model.signature.inputs)
        return {"predicted_label": json_values(_predict(model, batch, PREDICT))}


@cache
def served_with() -> dict[str, str]:
    """The versions of Python and of the model libraries this function serves with."""
    versions = {"python": platform.python_version()}
    for library in ("scikit-learn", "numpy", "onnxruntime"):
        try:
            versions[library] = importlib.metadata.version(library)
        except importlib.metadata.PackageNotFoundError:
            continue
    return versions


def metadata_tensors(signature: Signature) -> dict[str, Any]:
    """The V2 model metadata's inputs and outputs, rendered from the signature."""
    inputs = signature.inputs
    if inputs.named:
        described = [
            {"name": c.name, "datatype": c.datatype or "BYTES", "shape": [-1], "parameters": {"content_type": "pd"}}
            for c in inputs.columns
        ]
    elif inputs.features is not None:
        described = [{"name": "input-0", "datatype": inputs.datatype, "shape": [-1, inputs.features]}]
    else:
        described = [{"name": "input-0", "datatype": "BYTES", "shape": [-1]}]
    outputs = [{"name": o.name, "datatype": o.datatype, "shape": list(o.shape)} for o in signature.outputs]
    rendered: dict[str, Any] = {"inputs": described, "outputs": outputs}
    provenance = signature.provenance
    if provenance is not None:
        rendered["parameters"] = {
            "estimator": provenance.estimator,
            "libraries": list(provenance.libraries),
            "trained_with": dict(provenance.trained_with),
            "served_with": dict(provenance.served_with),
        }
        mismatches = provenance.mismatches()
        if mismatches:
            rendered["parameters"]["version_mismatch"] = list(mismatches)
    return rendered


def _version_note(model: LoadedModel | None) -> str:
    """An index entry's reason for a served model saved by other library versions than those serving it."""
    provenance = model.signature.provenance if model is not None else None
    mismatches = provenance.mismatches() if provenance is not None else ()
    return f"served, but saved with {', '.join(mismatches)}" if mismatches else ""


def _predict(model: LoadedModel, batch: Batch, output: str) -> Array:
    if output == PREDICT_PROBA and not model.has_proba:
        raise BadRequest(f"model {model.name!r} version {model.version} does not provide predict_proba")
    try:
        answer: Array = getattr(model.runner, output)(batch)
    except (ValueError, TypeError, AttributeError, KeyError) as error:  # input the model cannot take
        raise BadRequest(f"the model rejected the input: {_reason(error)}") from None
    except MemoryError:  # the function stays up; a smaller batch, or more memory, can be answered
        raise ModelUnavailable(
            f"model {model.name!r} version {model.version} ran out of memory answering {batch.rows} rows"
        ) from None
    return answer


def _reason(error: BaseException) -> str:
    return " ".join(str(error).split())[:_MAX_REASON_CHARS]
