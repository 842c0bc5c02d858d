"""A published version's ``metadata.json``: one typed record with a format version, written by the loader and read
by both functions through this module alone.

What it records: where the file came from (bucket, key, S3 version, ETag, sequencer), what it is (size, SHA-256,
format), what checked it (the libraries, the validation and the serving check, the signature), and what the fast
path made of it. A record of another format, or one that does not parse, is refused with ``MetadataError``: the
loader leaves a verdict for it and the inference function answers 503 saying why, rather than guessing.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from lambdas.common.signature import Signature, SignatureError

METADATA_FILE = "metadata.json"
FORMAT_VERSION = 1


class MetadataError(ValueError):
    """A ``metadata.json`` this version cannot read: of another format, or malformed."""


@dataclass(frozen=True)
class ServingCheck:
    """How the model was asked in its serving form before it was published."""

    checked_on: str  # the sample's file name, or "generated rows"
    expected_answers: str | None = None  # "reproduced" when the sample carried answers
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class Validation:
    """The load of the file as the inference function loads it."""

    estimator: str  # class path
    trained_with_sklearn: str | None = None
    warnings: tuple[str, ...] = ()
    version_mismatch: tuple[str, ...] = ()
    serving_check: ServingCheck | None = None
    result: str = "loaded"


@dataclass(frozen=True)
class VersionMetadata:
    name: str
    version: int
    file: str  # model<suffix>
    source_bucket: str
    source_key: str  # the key whose removal removes the version (an MLflow directory's MLmodel)
    model_key: str  # the key the model file was read from
    size: int
    sha256: str
    signature: Signature
    validation: Validation
    version_id: str | None = None
    etag: str = ""
    sequencer: str | None = None
    event_time: str | None = None
    sha256_verified_against: str | None = None  # "ChecksumSHA256" or "sha256 metadata"
    feature_count: int | None = None
    libraries: Mapping[str, str] = field(default_factory=dict)
    fast_path: Mapping[str, Any] = field(default_factory=dict)  # the fast path's report (see loader.fast_path)
    mlflow: Mapping[str, Any] | None = None  # an MLflow directory's MLmodel, as loader.mlflow_model records it
    published_at: str = ""

    @property
    def format(self) -> str:
        return self.file.rpartition(".")[2]

    @property
    def mlflow_fingerprint(self) -> str | None:
        """The S3 objects an MLflow directory was published from."""
        value = self.mlflow.get("fingerprint") if self.mlflow is not None else None
        return value if isinstance(value, str) else None

    def with_check(self, validation: Validation, signature: Signature, fast_path: Mapping[str, Any]) -> VersionMetadata:
        """The record after the model was checked and signed again (a probe sample arrived)."""
        return replace(self, validation=validation, signature=signature, fast_path=dict(fast_path))

    def to_json(self) -> bytes:
        record = asdict(self)
        record["signature"] = self.signature.to_dict()
        record["format"] = self.format
        return json.dumps({"format_version": FORMAT_VERSION, **record}, indent=2, sort_keys=True).encode()

    @classmethod
    def from_json(cls, text: str) -> VersionMetadata:
        try:
            data: Any = json.loads(text)
        except ValueError as error:
            raise MetadataError(f"{METADATA_FILE} does not parse: {error}") from None
        if not isinstance(data, dict):
            raise MetadataError(f"{METADATA_FILE} must hold an object")
        found = data.get("format_version")
        if found != FORMAT_VERSION:
            raise MetadataError(
                f"{METADATA_FILE} is of format {found!r}; this version reads format {FORMAT_VERSION}: publish the "
                "model again, or deploy the version that wrote it"
            )
        try:
            return _record(data)
        except (KeyError, TypeError, ValueError) as error:
            raise MetadataError(f"{METADATA_FILE} is malformed: {type(error).__name__}: {error}") from None


def _record(data: dict[str, Any]) -> VersionMetadata:
    validation = data["validation"]
    check = validation.get("serving_check")
    try:
        signature = Signature.from_dict(data["signature"])
    except SignatureError as error:
        raise ValueError(f"its signature: {error}") from None
    return VersionMetadata(
        name=str(data["name"]),
        version=_integer(data["version"]),
        file=str(data["file"]),
        source_bucket=str(data["source_bucket"]),
        source_key=str(data["source_key"]),
        model_key=str(data["model_key"]),
        size=_integer(data["size"]),
        sha256=str(data["sha256"]),
        signature=signature,
        validation=Validation(
            estimator=str(validation["estimator"]),
            trained_with_sklearn=_text(validation.get("trained_with_sklearn")),
            warnings=_texts(validation.get("warnings")),
            version_mismatch=_texts(validation.get("version_mismatch")),
            serving_check=None
            if check is None
            else ServingCheck(str(check["checked_on"]), _text(check.get("expected_answers")), _texts(check["notes"])),
            result=str(validation.get("result", "loaded")),
        ),
        version_id=_text(data.get("version_id")),
        etag=str(data.get("etag") or ""),
        sequencer=_text(data.get("sequencer")),
        event_time=_text(data.get("event_time")),
        sha256_verified_against=_text(data.get("sha256_verified_against")),
        feature_count=None if data.get("feature_count") is None else _integer(data["feature_count"]),
        libraries={str(k): str(v) for k, v in _mapping(data.get("libraries")).items()},
        fast_path=_mapping(data.get("fast_path")),
        mlflow=None if data.get("mlflow") is None else _mapping(data["mlflow"]),
        published_at=str(data.get("published_at") or ""),
    )


def _integer(value: Any) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(f"expected an integer, got {value!r}")
    return value


def _text(value: Any) -> str | None:
    if value is not None and not isinstance(value, str):
        raise TypeError(f"expected text, got {value!r}")
    return value


def _texts(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise TypeError(f"expected a list of text, got {value!r}")
    return tuple(value)


def _mapping(value: Any) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise TypeError(f"expected an object, got {value!r}")
    return value


def read_metadata(directory: Path) -> VersionMetadata | None:
    """A version's record; None when it has none (a version published before records, or by hand). Raises
    ``MetadataError`` for a record this version cannot read."""
    try:
        text = (directory / METADATA_FILE).read_text(encoding="utf-8")
    except (FileNotFoundError, NotADirectoryError):
        return None
    except UnicodeDecodeError as error:
        raise MetadataError(f"{METADATA_FILE} is not UTF-8 text: {error}") from None
    except OSError as error:
        raise MetadataError(f"{METADATA_FILE} cannot be read: {error}") from None
    return VersionMetadata.from_json(text)
