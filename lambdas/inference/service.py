"""What each route does, in plain terms: requests in as parsed JSON, answers out as dicts. No Lambda knowledge."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any

from lambdas.common import codecs
from lambdas.common.batch import Batch
from lambdas.common.errors import ModelNotFound
from lambdas.common.libraries import library_versions
from lambdas.common.payloads import Array, InferRequest, OutputTensor, RowsRequest
from lambdas.common.repository import is_valid_name, list_models, list_refused_models, parse_version
from lambdas.common.runtimes import answer
from lambdas.common.serving import SETTINGS_FILE, ServingSettings, read_settings_verdict
from lambdas.common.settings import Settings
from lambdas.common.signature import PREDICT, Signature
from lambdas.inference import protocol
from lambdas.inference.cache import LoadedModel, ModelCache
from lambdas.inference.observability import count
from lambdas.inference.protocol import InferAnswer
from lambdas.inference.traffic import TrafficTable, draw_version

SERVER_NAME = "serverless-sklearn"
SERVER_VERSION = "0.1.0"


READY, UNAVAILABLE, UNKNOWN = "READY", "UNAVAILABLE", "UNKNOWN"


@dataclass(frozen=True)
class IndexEntry:
    """One version in the repository index (the model repository extension's ``state`` and ``reason``)."""

    name: str
    version: int | str  # a version, or SETTINGS_FILE for the model's refused serving settings
    state: str  # READY, UNAVAILABLE or UNKNOWN
    reason: str
    refused_at: str | None = None  # when the loader refused it
    sha256: str | None = None  # of the refused upload

    def to_json(self) -> dict[str, Any]:
        entry: dict[str, Any] = {"name": self.name, "version": str(self.version), "state": self.state}
        entry["reason"] = self.reason
        if self.refused_at is not None:
            entry["refused_at"] = self.refused_at
        if self.sha256 is not None:
            entry["sha256"] = self.sha256
        return entry


@dataclass(slots=True)
class Routed:
    """The model a prediction goes to, and the settings that chose it."""

    model: LoadedModel
    settings: ServingSettings | None
    routed: bool  # the request named no version: the settings' weights (or latest) chose it


class InferenceService:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.cache = ModelCache.from_settings(settings, on_event=count)
        self.traffic = TrafficTable(settings.model_dir, refresh_seconds=settings.refresh_seconds)

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

    def route(self, name: str, version: str | None, route_key: str | None = None) -> Routed:
        """The model a prediction goes to. A request naming a version gets that version; one naming none goes to a
        version drawn by the model's traffic weights (stable for a route key), and a drawn version that has since
        been deleted passes its share to the others; without weights, the latest version serves."""
        if version is not None or not is_valid_name(name):
            return Routed(self.model(name, version), self.traffic.settings(name) if version else None, False)
        settings = self.traffic.settings(name)
        if settings is not None and settings.traffic:
            gone: list[int] = []
            while (drawn := draw_version(settings, route_key, gone)) is not None:
                try:
                    return Routed(self.cache.get(name, drawn), settings, True)
                except ModelNotFound:
                    gone.append(drawn)
                    count("RoutedVersionGone")
        return Routed(self.cache.get(name), settings, True)

    def serving(self, name: str) -> dict[str, Any]:
        """A model's published serving settings, the version a rollback goes to, and a refused upload's verdict."""
        if not is_valid_name(name) or not self.cache.versions(name):
            raise ModelNotFound(name)
        published = self.traffic.published(name)
        described: dict[str, Any] = {"name": name, "versions": [str(v) for v in self.cache.versions(name)]}
        if published is None:
            described["settings"] = None
        else:
            rollback = published.rollback_version
            described.update(
                settings=published.settings.to_json(),
                published_at=published.published_at,
                etag=published.etag,
                version_id=published.version_id,
                rollback_version=str(rollback) if rollback is not None else None,
            )
        verdict = read_settings_verdict(self.settings.model_dir, name)
        if verdict is not None:
            described["refused"] = {"reason": verdict.reason, "refused_at": verdict.refused_at, "etag": verdict.etag}
        return described

    def v2_metadata(self, name: str, version: str | None) -> dict[str, Any]:
        model = self.model(name, version)
        described = {
            "name": name,
            "versions": [str(v) for v in self.cache.versions(name)],
            "platform": model.runner.platform,
            **metadata_tensors(model.signature),
        }
        # The file's digest lets a client tell that the version it uploaded is the one served.
        if model.sha256:
            described.setdefault("parameters", {})["sha256"] = model.sha256
        return described

    def v2_infer(self, model: LoadedModel, request: InferRequest) -> InferAnswer:
        """Decode, predict each output asked for, encode: a JSON body and a binary one alike."""
        batch = codecs.decode(request, model.signature.inputs)
        outputs = tuple(codecs.encode_output(output, _predict(model, batch, output)) for output in request.outputs)
        return InferAnswer(model.name, model.version, request.id, outputs, request.binary_outputs)

    def repository_index(self, ready_only: bool) -> list[IndexEntry]:
        """Every version this instance serves or has tried, then (unless only ready ones are asked for) those the
        loader refused, by name and version."""
        tried = self.cache.cached()
        index = []
        for name, versions in list_models(self.settings.model_dir).items():
            for version in versions:
                if (name, version) not in tried:
                    entry = IndexEntry(name, version, UNKNOWN, "not loaded by this instance yet")
                elif tried[(name, version)] is None:
                    entry = IndexEntry(name, version, READY, _version_note(self.cache.loaded(name, version)))
                else:
                    entry = IndexEntry(name, version, UNAVAILABLE, tried[(name, version)] or "")
                if entry.state == READY or not ready_only:
                    index.append(entry)
        if not ready_only:
            for name, refused in list_refused_models(self.settings.model_dir).items():
                for version, verdict in refused.items():
                    reason = f"refused by the loader: {verdict.reason}"
                    index.append(IndexEntry(name, version, UNAVAILABLE, reason, verdict.refused_at, verdict.sha256))
            for name in {entry.name for entry in index}:
                settings_verdict = read_settings_verdict(self.settings.model_dir, name)
                if settings_verdict is not None:
                    reason = f"serving settings refused by the loader: {settings_verdict.reason}"
                    index.append(IndexEntry(name, SETTINGS_FILE, UNAVAILABLE, reason, settings_verdict.refused_at))
            # Versions in order, then the model's serving settings.
            index.sort(key=lambda entry: (entry.name, isinstance(entry.version, str), str(entry.version).zfill(10)))
        return index

    # --- MLflow's scoring protocol ---

    def invocations(self, model: LoadedModel, request: protocol.ScoringRequest) -> OutputTensor:
        """Answered as MLflow's scoring server answers: the model's ``predict_fn`` output.
        ``params`` are checked against the model's params schema and play no part: a scikit-learn model's predict
        takes none."""
        codecs.check_params(request.params, model.signature.params)
        if isinstance(request.data, RowsRequest):
            batch = codecs.decode_rows(request.data, model.signature.inputs)
        else:
            batch = codecs.decode_columns(request.data, model.signature.inputs)
        output = model.signature.default_output
        return codecs.encode_output(output, _predict(model, batch, output))

    # --- KServe V1 and the original format ---

    def v1_models(self) -> dict[str, Any]:
        return {"models": sorted(list_models(self.settings.model_dir))}

    def predict_rows(self, model: LoadedModel, rows: RowsRequest) -> OutputTensor:
        """KServe V1 and the original format: rows decoded by the model's signature, ``predict`` encoded."""
        batch = codecs.decode_rows(rows, model.signature.inputs)
        return codecs.encode_output(PREDICT, _predict(model, batch, PREDICT))


@cache
def served_with() -> dict[str, str]:
    """The versions of Python and of the model libraries this function serves with."""
    return library_versions(("scikit-learn", "numpy", "onnxruntime"))


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
    return answer(model.runner, batch, output, f"model {model.name!r} version {model.version}")
