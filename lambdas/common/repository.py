"""The model repository: how S3 keys map to models, and where models live under the model directory.

    <prefix>iris.joblib             -> models/iris/1/model.joblib
    <prefix>iris/3/model.skops      -> models/iris/3/model.skops

A model may have a probe sample beside it, rows the loader checks an ONNX conversion on:

    <prefix>iris.sample.json        (or .npy) for iris.joblib
    <prefix>iris/3/sample.json      (or .npy) for iris/3/model.skops

A version directory holds one model file, ``metadata.json`` and, when the model converts to ONNX and answers alike,
``model.onnx``. Only these exact names count, so a temporary file being written beside them is never mistaken for one.
A ``model.onnx`` never stands alone: a version exists while its scikit-learn model file does.

An MLflow model directory uploaded under a version prefix (``<prefix>churn/1/MLmodel``, ``churn/1/model.pkl``, ...)
is one version too; ``version_prefix`` names the version any key under such a prefix belongs to.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from lambdas.common.verdicts import Verdict, read_verdict

MODEL_SUFFIXES = (".joblib", ".pkl", ".skops")
MODEL_FILES = tuple(f"model{suffix}" for suffix in MODEL_SUFFIXES)
ONNX_FILE = "model.onnx"
SAMPLE_FILES = ("sample.json", "sample.npy")
MLMODEL_FILE = "MLmodel"
MODELS_SUBDIR = "models"
_KNOWN_FILES = frozenset((*MODEL_FILES, ONNX_FILE))
MAX_VERSION = 10**9

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
_VERSION = re.compile(r"[1-9][0-9]{0,9}")


class InvalidKey(ValueError):
    """An S3 key that does not name a model in the repository layout; it is never written."""


@dataclass(frozen=True, order=True)
class ModelKey:
    name: str
    version: int
    suffix: str

    @property
    def filename(self) -> str:
        return f"model{self.suffix}"


def is_valid_name(name: str) -> bool:
    return bool(_NAME.fullmatch(name)) and name not in (".", "..")


def parse_version(text: str) -> int | None:
    """A version as written in a path or URL: a positive integer without sign, spaces or leading zeros."""
    if not _VERSION.fullmatch(text):
        return None
    version = int(text)
    return version if version <= MAX_VERSION else None


def parse_key(key: str, prefix: str = "", allowed_suffixes: frozenset[str] | None = None) -> ModelKey:
    """Map a decoded S3 key to the model it names, or raise InvalidKey saying why."""
    allowed = frozenset(MODEL_SUFFIXES) if allowed_suffixes is None else allowed_suffixes
    if not key:
        raise InvalidKey("empty key")
    if "\x00" in key or "\\" in key:
        raise InvalidKey("key contains a NUL byte or a backslash")
    if prefix and not key.startswith(prefix):
        raise InvalidKey(f"key is outside the model prefix {prefix!r}")
    rest = key[len(prefix) :]
    parts = rest.split("/")
    if len(parts) == 1:
        name, suffix = _split_suffix(parts[0])
        version = 1
    elif len(parts) == 3:
        name, version_text, filename = parts
        stem, suffix = _split_suffix(filename)
        if stem != "model":
            raise InvalidKey(f"versioned keys end in model<suffix>, got {filename!r}")
        parsed = parse_version(version_text)
        if parsed is None:
            raise InvalidKey(f"version must be a positive integer up to {MAX_VERSION}, got {version_text!r}")
        version = parsed
    else:
        raise InvalidKey("key must be <name><suffix> or <name>/<version>/model<suffix>")
    if not is_valid_name(name):
        raise InvalidKey(f"model name {name!r} must match {_NAME.pattern} and not be '.' or '..'")
    if suffix not in allowed:
        raise InvalidKey(f"suffix {suffix!r} is not an allowed model format {sorted(allowed)}")
    return ModelKey(name=name, version=version, suffix=suffix)


@dataclass(frozen=True)
class SampleKey:
    name: str
    version: int
    filename: str  # one of SAMPLE_FILES


def parse_sample_key(key: str, prefix: str = "") -> SampleKey | None:
    """The model version a probe sample key belongs to, or None when the key is not a sample's."""
    if not key.startswith(prefix):
        return None
    parts = key[len(prefix) :].split("/")
    if len(parts) == 3 and parts[2] in SAMPLE_FILES:
        name, version = parts[0], parse_version(parts[1])
        filename = parts[2]
    elif len(parts) == 1:
        flat = next((f for f in SAMPLE_FILES if parts[0].endswith(f".{f}")), None)
        if flat is None:
            return None
        name, version, filename = parts[0][: -len(flat) - 1], 1, flat
    else:
        return None
    if version is None or not is_valid_name(name):
        return None
    return SampleKey(name=name, version=version, filename=filename)


def sample_keys(model_key: str, target: ModelKey) -> tuple[str, ...]:
    """Where the probe sample of the model uploaded as ``model_key`` may be, in the order they are looked for."""
    if model_key.endswith(f"/{target.version}/{target.filename}"):
        base = model_key[: -len(target.filename)]
        return tuple(f"{base}{filename}" for filename in SAMPLE_FILES)
    base = model_key[: -len(target.suffix)]
    return tuple(f"{base}.{filename}" for filename in SAMPLE_FILES)


@dataclass(frozen=True)
class VersionPrefix:
    """A key under ``<prefix><name>/<version>/``: the version it belongs to and its path below that prefix."""

    name: str
    version: int
    prefix: str  # the full S3 prefix of the version, ending in "/"
    path: str  # below the prefix: "MLmodel", "model.pkl", "metadata/MLmodel", ...

    @property
    def mlmodel_key(self) -> str:
        return f"{self.prefix}{MLMODEL_FILE}"


def version_prefix(key: str, prefix: str = "") -> VersionPrefix | None:
    """The version a key under ``<name>/<version>/`` belongs to, or None for any other key."""
    if not key.startswith(prefix) or "\x00" in key or "\\" in key:
        return None
    parts = key[len(prefix) :].split("/", 2)
    if len(parts) != 3 or not parts[2] or not is_valid_name(parts[0]):
        return None
    version = parse_version(parts[1])
    if version is None or any(part in ("", ".", "..") for part in parts[2].split("/")):
        return None
    return VersionPrefix(parts[0], version, f"{prefix}{parts[0]}/{parts[1]}/", parts[2])


def parse_settings_key(key: str, prefix: str = "", filename: str = "serving.json") -> str | None:
    """The model whose serving settings a key holds (``<prefix>NAME/serving.json``), or None for any other key."""
    if not key.startswith(prefix) or "\x00" in key or "\\" in key:
        return None
    parts = key[len(prefix) :].split("/")
    if len(parts) != 2 or parts[1] != filename or not is_valid_name(parts[0]):
        return None
    return parts[0]


def _split_suffix(filename: str) -> tuple[str, str]:
    stem, dot, extension = filename.rpartition(".")
    if not dot or not stem:
        raise InvalidKey(f"{filename!r} has no model suffix {list(MODEL_SUFFIXES)}")
    return stem, f".{extension}"


def models_root(model_dir: Path) -> Path:
    return model_dir / MODELS_SUBDIR


def version_dir(model_dir: Path, name: str, version: int) -> Path:
    return models_root(model_dir) / name / str(version)


def find_model_file(directory: Path, allowed_suffixes: frozenset[str] | None = None) -> Path | None:
    """The scikit-learn model file of a version directory, or None while it has none."""
    return find_model_files(directory, allowed_suffixes)[0]


def find_model_files(
    directory: Path, allowed_suffixes: frozenset[str] | None = None
) -> tuple[Path | None, Path | None]:
    """The model file of a version directory and its ONNX conversion, each None when absent; the conversion only
    counts beside a model file.

    The directory is read once: a version republished in another format gets its new file renamed in before the old
    one is removed, and looking for one name after the other could miss both.
    """
    try:
        with os.scandir(directory) as entries:
            present = {entry.name: entry for entry in entries if entry.name in _KNOWN_FILES}
    except OSError:
        return None, None
    for filename in MODEL_FILES:
        if allowed_suffixes is not None and Path(filename).suffix not in allowed_suffixes:
            continue
        entry = present.get(filename)
        if entry is not None and entry.is_file():
            onnx = present.get(ONNX_FILE)
            return directory / filename, (directory / ONNX_FILE if onnx is not None and onnx.is_file() else None)
    return None, None


def list_versions(model_dir: Path, name: str) -> list[int]:
    """Published versions of a model, ascending: directories with a valid version name that hold a model file."""
    if not is_valid_name(name):
        return []
    try:
        entries = list((models_root(model_dir) / name).iterdir())
    except (FileNotFoundError, NotADirectoryError):
        return []
    versions = []
    for entry in entries:
        version = parse_version(entry.name)
        if version is not None and find_model_file(entry) is not None:
            versions.append(version)
    return sorted(versions)


def list_models(model_dir: Path) -> dict[str, list[int]]:
    """Every model with at least one published version, by name."""
    try:
        entries = sorted(models_root(model_dir).iterdir())
    except (FileNotFoundError, NotADirectoryError):
        return {}
    models = {}
    for entry in entries:
        if entry.is_dir() and is_valid_name(entry.name):
            versions = list_versions(model_dir, entry.name)
            if versions:
                models[entry.name] = versions
    return models


def list_refused(model_dir: Path, name: str) -> dict[int, Verdict]:
    """Versions the loader refused and that hold no model, with the loader's verdict on each."""
    if not is_valid_name(name):
        return {}
    try:
        entries = list((models_root(model_dir) / name).iterdir())
    except (FileNotFoundError, NotADirectoryError):
        return {}
    refused = {}
    for entry in entries:
        version = parse_version(entry.name)
        if version is not None and find_model_file(entry) is None:
            verdict = read_verdict(entry)
            if verdict is not None:
                refused[version] = verdict
    return dict(sorted(refused.items()))


def list_refused_models(model_dir: Path) -> dict[str, dict[int, Verdict]]:
    """Every model with a refused version, by name."""
    try:
        entries = sorted(models_root(model_dir).iterdir())
    except (FileNotFoundError, NotADirectoryError):
        return {}
    found = {}
    for entry in entries:
        if entry.is_dir() and is_valid_name(entry.name):
            refused = list_refused(model_dir, entry.name)
            if refused:
                found[entry.name] = refused
    return found
