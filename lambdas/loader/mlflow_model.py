"""An MLflow model directory's ``MLmodel`` file, read into what the loader needs to serve it.

The loader serves the ``sklearn`` flavor: the file it names (``pickled_model``), how that file was written
(``serialization_format``: pickle, cloudpickle or skops; its ``skops_trusted_types`` are recorded, never trusted:
the deployment's own ``SKOPS_TRUSTED_TYPES`` decide what loads), the scikit-learn
version that wrote it, the function MLflow's pyfunc answers with (``predict_fn``), the signature's column types and
the input example. Everything else in the directory (``conda.yaml``, ``python_env.yaml``, ``requirements.txt``) is
the environment MLflow would build; here the image is the environment.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import yaml

from lambdas.common.signature import Declared, Param
from lambdas.loader.errors import ModelInvalid

MAX_MLMODEL_BYTES = 1 << 20
SERIALIZATION_SUFFIXES = {"pickle": ".pkl", "cloudpickle": ".pkl", "skops": ".skops"}
# What MLflow's pyfunc may answer with, and the output of ours that is the same answer.
PREDICT_FUNCTIONS = {"predict": "predict", "predict_proba": "predict_proba"}
# MLflow column types -> V2 datatypes; types without a V2 counterpart stay "any scalar".
_COLUMN_DATATYPES = {
    "double": "FP64",
    "float": "FP64",
    "long": "INT64",
    "integer": "INT64",
    "boolean": "BOOL",
    "string": "BYTES",
}


@dataclass(frozen=True)
class MLflowModel:
    model_file: str  # below the directory, e.g. "model.pkl"
    serialization_format: str  # a key of SERIALIZATION_SUFFIXES
    sklearn_version: str | None
    requested_trusted_types: tuple[str, ...]  # the skops types MLmodel asks to trust: shown, never trusted
    predict_fn: str  # a key of PREDICT_FUNCTIONS
    declared: Declared  # what its signature states: columns (in order), which are optional, its params
    example_file: str | None  # the input example below the directory
    flavors: tuple[str, ...]
    identity: dict[str, Any] = field(default_factory=dict)  # run_id, model_uuid, mlflow_version, ...

    @property
    def suffix(self) -> str:
        return SERIALIZATION_SUFFIXES[self.serialization_format]

    def record(self) -> dict[str, Any]:
        """What ``metadata.json`` keeps of it, under ``mlflow``."""
        return {
            **self.identity,
            "flavors": list(self.flavors),
            "model_file": self.model_file,
            "serialization_format": self.serialization_format,
            "sklearn_version": self.sklearn_version,
            "predict_fn": self.predict_fn,
            "input_example": self.example_file,
            "skops_trusted_types_requested": list(self.requested_trusted_types),
        }


def parse(data: bytes) -> MLflowModel:
    """Read an MLmodel file; ModelInvalid says why a directory cannot be served."""
    try:
        document = yaml.safe_load(data.decode("utf-8"))
    except (UnicodeDecodeError, yaml.YAMLError) as error:
        raise ModelInvalid(f"MLmodel is not valid YAML: {' '.join(str(error).split())[:200]}") from None
    if not isinstance(document, dict) or not isinstance(document.get("flavors"), dict):
        raise ModelInvalid("MLmodel has no 'flavors' section")
    flavors = document["flavors"]
    sklearn = flavors.get("sklearn")
    if not isinstance(sklearn, dict):
        raise ModelInvalid(
            f"MLmodel has flavors {sorted(map(str, flavors))}; only the sklearn flavor is served "
            "(save the model with mlflow.sklearn)"
        )
    serialization = sklearn.get("serialization_format") or "pickle"
    if serialization not in SERIALIZATION_SUFFIXES:
        raise ModelInvalid(f"MLmodel's serialization_format {serialization!r} is not one of pickle, cloudpickle, skops")
    model_file = sklearn.get("pickled_model")
    if not isinstance(model_file, str) or not _relative(model_file):
        raise ModelInvalid(f"MLmodel's pickled_model {model_file!r} is not a file inside the directory")
    pyfunc = flavors.get("python_function")
    predict_fn = (pyfunc.get("predict_fn") if isinstance(pyfunc, dict) else None) or "predict"
    if predict_fn not in PREDICT_FUNCTIONS:
        raise ModelInvalid(f"MLmodel's predict_fn {predict_fn!r} is not served; use predict or predict_proba")
    trusted = sklearn.get("skops_trusted_types") or []
    if not isinstance(trusted, list) or not all(isinstance(name, str) for name in trusted):
        raise ModelInvalid("MLmodel's skops_trusted_types must be a list of type names")
    version = sklearn.get("sklearn_version")
    example = document.get("saved_input_example_info")
    example_file = example.get("artifact_path") if isinstance(example, dict) else None
    identity = {name: document.get(name) for name in ("run_id", "model_uuid", "model_id", "mlflow_version")}
    identity["utc_time_created"] = document.get("utc_time_created")
    return MLflowModel(
        model_file=model_file,
        serialization_format=serialization,
        sklearn_version=str(version) if version is not None else None,
        requested_trusted_types=tuple(trusted),
        predict_fn=predict_fn,
        declared=_declared(document.get("signature")),
        example_file=example_file if isinstance(example_file, str) and _relative(example_file) else None,
        flavors=tuple(sorted(map(str, flavors))),
        identity={name: str(value) for name, value in identity.items() if value is not None},
    )


def _declared(signature: Any) -> Declared:
    """What the MLmodel signature states: a column-based signature's datatypes (in its order) and optional
    columns, and its params schema."""
    if not isinstance(signature, dict):
        return Declared()
    specs = _json_list(signature.get("inputs"), "inputs")
    params = _params(_json_list(signature.get("params"), "params"))
    if (
        not specs
        or not all(isinstance(spec, dict) for spec in specs)
        or any(spec.get("type") == "tensor" or not isinstance(spec.get("name"), str) for spec in specs)
    ):
        return Declared(params=params)
    return Declared(
        datatypes={spec["name"]: _COLUMN_DATATYPES.get(str(spec.get("type"))) for spec in specs},
        optional=frozenset(spec["name"] for spec in specs if spec.get("required") is False),
        params=params,
    )


def _json_list(text: Any, part: str) -> list[Any] | None:
    """One part of an MLmodel signature: a JSON list in a string, or absent."""
    if not isinstance(text, str):
        return None
    try:
        value = json.loads(text)
    except ValueError:
        raise ModelInvalid(f"MLmodel's signature {part} are not valid JSON") from None
    return value if isinstance(value, list) else None


def _params(specs: list[Any] | None) -> tuple[Param, ...] | None:
    if specs is None:
        return None
    params = []
    for spec in specs:
        if not isinstance(spec, dict) or not isinstance(spec.get("name"), str) or not isinstance(spec.get("type"), str):
            raise ModelInvalid("MLmodel's signature params must each have a name and a type")
        shape = spec.get("shape")
        if shape is not None and not (isinstance(shape, list) and all(isinstance(n, int) for n in shape)):
            raise ModelInvalid(f"MLmodel's param {spec['name']!r} has a shape that is not a list of sizes")
        params.append(Param(spec["name"], spec["type"], None if shape is None else tuple(shape), spec.get("default")))
    return tuple(params)


def _relative(path: str) -> bool:
    parts = path.split("/")
    return bool(path) and not path.startswith("/") and all(part not in ("", ".", "..") for part in parts)
