"""A batch job as its input object names it: the model (and version, when given), the file's format, the options
set as object metadata, and where its answers, refused rows and manifest go.

    input/MODEL/NAME.EXT            -> the latest version when the job starts
    input/MODEL/VERSION/NAME.EXT    -> that version
    output/MODEL/VERSION/NAME.EXT.out, NAME.EXT.errors.jsonl, NAME.EXT.manifest.json

Formats by suffix: ``.csv`` (a header row), ``.jsonl`` (one JSON object per line), ``.parquet``. Options
(``x-amz-meta-*``):
``outputs=predict|predict_proba``, ``join=input``, ``tolerate-failed-percent=N``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from lambdas.common.repository import is_valid_name, parse_version
from lambdas.common.signature import PREDICT, PREDICT_PROBA

INPUT_PREFIX = "input/"
OUTPUT_PREFIX = "output/"
FORMATS = {".csv": "csv", ".jsonl": "jsonl", ".parquet": "parquet"}
_NAME_LIMIT = 512


class JobError(ValueError):
    """An input key or option that cannot start a job; the message says what would."""


@dataclass(frozen=True)
class JobSpec:
    bucket: str
    key: str
    model: str
    version: int | None  # None: the latest version, fixed when the job starts
    file_name: str  # NAME.EXT, as uploaded
    format: str  # csv, jsonl or parquet
    output: str = PREDICT
    join: bool = False
    tolerate_failed_percent: float = 0.0

    def output_base(self, version: int) -> str:
        return f"{OUTPUT_PREFIX}{self.model}/{version}/{self.file_name}"

    def out_key(self, version: int) -> str:
        return f"{self.output_base(version)}.out"

    def errors_key(self, version: int) -> str:
        return f"{self.output_base(version)}.errors.jsonl"

    def manifest_key(self, version: int) -> str:
        return f"{self.output_base(version)}.manifest.json"


def parse_job(bucket: str, key: str, metadata: Mapping[str, str] | None = None) -> JobSpec:
    """The job an uploaded key starts, or JobError saying why it starts none."""
    if not key.startswith(INPUT_PREFIX) or "\x00" in key or "\\" in key:
        raise JobError(f"jobs start from keys under {INPUT_PREFIX}, got {key!r}")
    parts = key[len(INPUT_PREFIX) :].split("/")
    if len(parts) == 2:
        model, file_name = parts
        version = None
    elif len(parts) == 3:
        model, version_text, file_name = parts
        version = parse_version(version_text)
        if version is None:
            raise JobError(f"the version in {key!r} must be a positive integer, got {version_text!r}")
    else:
        raise JobError(f"a job's key is {INPUT_PREFIX}MODEL/NAME.EXT or {INPUT_PREFIX}MODEL/VERSION/NAME.EXT")
    if not is_valid_name(model):
        raise JobError(f"model name {model!r} must be letters, digits, '_', '.' or '-' (64 at most)")
    if not file_name or file_name.startswith(".") or len(file_name) > _NAME_LIMIT:
        raise JobError(f"{file_name!r} is not a file name a job can answer beside")
    suffix = next((suffix for suffix in FORMATS if file_name.lower().endswith(suffix)), None)
    if suffix is None:
        raise JobError(f"{file_name!r} is not one of the formats {', '.join(FORMATS)}")
    options = {name.lower(): value.strip() for name, value in (metadata or {}).items()}
    return JobSpec(
        bucket=bucket,
        key=key,
        model=model,
        version=version,
        file_name=file_name,
        format=FORMATS[suffix],
        output=_output(options.get("outputs", PREDICT)),
        join=_join(options.get("join")),
        tolerate_failed_percent=_percent(options.get("tolerate-failed-percent", "0")),
    )


def _output(value: str) -> str:
    if value not in (PREDICT, PREDICT_PROBA):
        raise JobError(f"metadata outputs must be {PREDICT} or {PREDICT_PROBA}, got {value!r}")
    return value


def _join(value: str | None) -> bool:
    if value in (None, ""):
        return False
    if value.lower() != "input":
        raise JobError(f"metadata join must be input, got {value!r}")
    return True


def _percent(value: str) -> float:
    try:
        percent = float(value)
    except ValueError:
        raise JobError(f"metadata tolerate-failed-percent must be a number from 0 to 100, got {value!r}") from None
    if not 0 <= percent <= 100:
        raise JobError(f"metadata tolerate-failed-percent must be from 0 to 100, got {value!r}")
    return percent
