"""The three steps of a batch job, as the state machine runs them and the local stack drives them:

plan      the input object, the model and its version fixed for the whole job, the header checked against the
          model's signature, and the ranges the workers take: byte ranges of a CSV or JSON lines file (``lines``),
          runs of row groups of a Parquet file (``parquet``); a job that cannot run fails here with a manifest that
          names the cause.
score     one range: its lines read from the input's own S3 version, scored (``chunk``), written as a part next
          to the answers; a retried range writes the same part again, so rows are never doubled or lost.
assemble  the parts in order: refused rows numbered across the file, the tolerance applied, the answer file
          written once and complete, then the manifest; the parts are removed.

S3 is reached through the small protocol below (a boto3 client satisfies it), models through the inference
function's own cache, so a batch answer is the online answer of the same version and runtime.
"""

from __future__ import annotations

import functools
import json
import secrets
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from botocore.exceptions import ClientError

from lambdas.batch import parquet
from lambdas.batch.chunk import ChunkRefused, column_types, output_columns, score_chunk
from lambdas.batch.job import JobError, JobSpec, parse_job
from lambdas.batch.lines import byte_ranges, owned_lines
from lambdas.batch.table import TableError, answer_header, answer_lines, header, read_rows
from lambdas.common.errors import ModelNotFound, ModelUnavailable

DEFAULT_CHUNK_BYTES = 4 * 1024 * 1024
BLOCK_BYTES = 1024 * 1024  # a worker reads, decodes and answers its range a block of about this many bytes at a time
HEADER_BYTES = 64 * 1024
MIN_UPLOAD_PART = 8 * 1024 * 1024  # S3 takes parts of 5 MiB or more, but the last


class Store(Protocol):
    """The S3 calls the steps make (a boto3 S3 client satisfies it)."""

    def head_object(self, **kwargs: Any) -> dict[str, Any]: ...
    def get_object(self, **kwargs: Any) -> dict[str, Any]: ...
    def put_object(self, **kwargs: Any) -> dict[str, Any]: ...
    def delete_objects(self, **kwargs: Any) -> dict[str, Any]: ...
    def create_multipart_upload(self, **kwargs: Any) -> dict[str, Any]: ...
    def upload_part(self, **kwargs: Any) -> dict[str, Any]: ...
    def complete_multipart_upload(self, **kwargs: Any) -> dict[str, Any]: ...
    def abort_multipart_upload(self, **kwargs: Any) -> dict[str, Any]: ...


Models = Callable[[str, int | None], Any]  # (name, version or None for the latest) -> a LoadedModel


@dataclass
class Plan:
    spec: dict[str, Any]
    job_id: str
    version: int
    sha256: str | None
    runtime: str
    input_version_id: str | None
    size: int
    data_start: int
    names: list[str]  # a CSV's header, a Parquet file's columns; empty for JSON lines
    ranges: list[tuple[int, int]]  # [start, end) bytes, or [first, stop) row groups of a Parquet file
    started_at: str
    output_names: list[str] = field(default_factory=list)
    output_datatype: str = "BYTES"  # the V2 datatype of the answer columns

    @property
    def job(self) -> JobSpec:
        return JobSpec(**self.spec)

    def part_key(self, index: int, suffix: str) -> str:
        return f"{self.job.output_base(self.version)}.parts/{self.job_id}/{index:06d}.{suffix}"

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Plan:
        return cls(**{**data, "ranges": [tuple(item) for item in data["ranges"]]})


class JobFailed(RuntimeError):
    """A job that cannot run; ``manifest`` was written saying why."""

    def __init__(self, reason: str, manifest: dict[str, Any]) -> None:
        super().__init__(reason)
        self.manifest = manifest


def plan(
    s3: Store, bucket: str, key: str, models: Models, *, execution: str = "", chunk_bytes: int = DEFAULT_CHUNK_BYTES
) -> Plan:
    """Check the job and split its file; JobFailed (with its manifest written) when it cannot run."""
    started = _now()
    try:
        spec = parse_job(bucket, key)
        head = s3.head_object(Bucket=bucket, Key=key)
        spec = parse_job(bucket, key, head.get("Metadata") or {})
    except JobError as error:
        raise JobFailed(str(error), {"status": "FAILED", "reason": str(error), "input": key}) from None
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") not in ("404", "NoSuchKey", "NotFound"):
            raise
        raise _failer(s3, spec, None, started, execution)(f"{key} is no longer in the bucket", 0) from None
    version_id = head.get("VersionId")
    fail = _failer(s3, spec, version_id, started, execution)
    try:
        model = models(spec.model, spec.version)
    except (ModelNotFound, ModelUnavailable) as error:
        raise fail(error.message, spec.version or 0) from None
    size = int(head.get("ContentLength") or 0)
    names: list[str] = []
    data_start = 0
    ranges: list[tuple[int, int]] = []
    try:
        if spec.format == "csv":
            first = _read(s3, bucket, key, version_id, 0, min(size, HEADER_BYTES) - 1).split(b"\n", 1)[0]
            names = header(first)
            data_start = len(first) + 1
            _check_columns(model.signature, names)
        if spec.format == "parquet":
            table = parquet.open_file(_reader(s3, bucket, key, version_id), size)
            names = parquet.column_names(table)
            _check_columns(model.signature, names)
            ranges = parquet.group_ranges(table, chunk_bytes)
        else:
            ranges = byte_ranges(size, data_start, chunk_bytes)
        outputs = list(output_columns(model.signature, spec.output))
    except (TableError, ChunkRefused, ValueError) as error:
        raise fail(str(error), model.version) from None
    answer = model.signature.output(spec.output)
    return Plan(
        spec=asdict(spec),
        job_id=secrets.token_hex(8),
        version=model.version,
        sha256=model.sha256,
        runtime=model.runner.runtime,
        input_version_id=version_id,
        size=size,
        data_start=data_start,
        names=names,
        ranges=ranges,
        started_at=started,
        output_names=outputs,
        output_datatype=answer.datatype if answer is not None else "BYTES",
    )


def _check_columns(signature: Any, names: list[str]) -> None:
    inputs = signature.inputs
    if inputs.named:
        missing = [name for name in inputs.names if name not in names and name not in inputs.optional]
        if missing:
            raise ChunkRefused(f"the header has no column {', '.join(repr(n) for n in missing)}, which the model takes")
    elif inputs.features is not None and len(names) != inputs.features:
        raise ChunkRefused(f"the model takes {inputs.features} features; the header has {len(names)} columns")


def score(s3: Store, job: Plan, index: int, models: Models) -> dict[str, int]:
    """Score range ``index`` and write its part; returns its counts."""
    spec = job.job
    start, end = job.ranges[index]
    read = _reader(s3, spec.bucket, spec.key, job.input_version_id)
    model = models(spec.model, job.version)
    if spec.format == "parquet":
        return _score_groups(s3, job, index, model, parquet.open_file(read, job.size))
    counts = {"rows_in": 0, "rows_out": 0}
    errors: list[tuple[int, str]] = []
    body = bytearray()
    types = column_types(model.signature, job.names)
    what = f"model {spec.model!r} version {job.version}"
    for block in range(start, end, BLOCK_BYTES):  # a block at a time: the range is never in memory whole
        lines = owned_lines(read, block, min(block + BLOCK_BYTES, end), job.size, job.data_start)
        if not lines:
            continue
        offset = counts["rows_in"]
        counts["rows_in"] += len(lines)
        try:
            rows = read_rows(spec.format, lines, job.names, types)
        except TableError as error:  # the block is unreadable: every one of its rows is refused
            errors += [(offset + number, str(error)) for number in range(len(lines))]
            body += answer_lines_empty(spec.format, len(lines), len(job.output_names))
            continue
        scored = score_chunk(
            model.runner, model.signature, rows.columns, first_row=offset, output=spec.output, text=rows.text, what=what
        )
        errors += scored.errors
        counts["rows_out"] += len(scored.rows)
        body += answer_lines(spec.format, lines, rows, scored, offset, join=spec.join)
    return _write_part(s3, job, index, bytes(body), counts, errors)


def _score_groups(s3: Store, job: Plan, index: int, model: Any, file: Any) -> dict[str, int]:
    """A run of a Parquet file's row groups, a batch of rows at a time: their columns (all of them with ``join``)
    scored, the answers a Parquet part."""
    spec = job.job
    first, stop = job.ranges[index]
    taken = None if spec.join else list(model.signature.inputs.names) or None
    what = f"model {spec.model!r} version {job.version}"
    counts = {"rows_in": 0, "rows_out": 0}
    errors: list[tuple[int, str]] = []
    answers = []
    for batch in parquet.read_batches(file, first, stop, taken):
        offset = counts["rows_in"]
        counts["rows_in"] += batch.num_rows
        scored = score_chunk(
            model.runner,
            model.signature,
            parquet.table_columns(batch),
            first_row=offset,
            output=spec.output,
            text=False,
            what=what,
        )
        errors += scored.errors
        counts["rows_out"] += len(scored.rows)
        answers.append(
            parquet.answer_table(
                batch.num_rows, scored, job.output_names, job.output_datatype, batch if spec.join else None, offset
            )
        )
    if not answers:  # row groups of no rows
        schema = file.schema_arrow if spec.join else None
        answers.append(parquet.empty_answers(job.output_names, job.output_datatype, schema))
    return _write_part(s3, job, index, parquet.tables_bytes(answers), counts, errors)


def _write_part(
    s3: Store, job: Plan, index: int, body: bytes, counts: dict[str, int], errors: list[tuple[int, str]]
) -> dict[str, int]:
    bucket = job.job.bucket
    s3.put_object(Bucket=bucket, Key=job.part_key(index, "out"), Body=body)
    record = {**counts, "errors": errors}
    s3.put_object(Bucket=bucket, Key=job.part_key(index, "json"), Body=json.dumps(record).encode())
    return counts


def answer_lines_empty(fmt: str, count: int, width: int) -> bytes:
    """Answer lines for rows that could not be read: empty answer fields, written as the CSV writer writes them."""
    if fmt != "csv":
        return b"{}\n" * count
    return answer_header([], [""] * width, join=False) * count


def assemble(s3: Store, job: Plan, *, execution: str = "") -> dict[str, Any]:
    """Number the refused rows across the file, apply the tolerance, write the answers once, then the manifest."""
    spec = job.job
    bucket = spec.bucket
    parts = [
        json.loads(_body(s3.get_object(Bucket=bucket, Key=job.part_key(i, "json")))) for i in range(len(job.ranges))
    ]
    errors: list[dict[str, Any]] = []
    offset = 0
    for part in parts:
        errors += [{"row": offset + local + 1, "reason": reason} for local, reason in part["errors"]]
        offset += part["rows_in"]
    rows_in, rows_out = offset, sum(part["rows_out"] for part in parts)
    failed_percent = (len(errors) * 100 / rows_in) if rows_in else 0.0
    manifest = _manifest(spec, job, rows_in, rows_out, len(errors), execution)
    if errors:
        body = b"".join(json.dumps(error).encode() + b"\n" for error in errors)
        s3.put_object(Bucket=bucket, Key=spec.errors_key(job.version), Body=body)
        manifest["errors_key"] = spec.errors_key(job.version)
    if failed_percent > spec.tolerate_failed_percent:
        manifest.update(
            status="FAILED",
            reason=f"{len(errors)} of {rows_in} rows ({failed_percent:.2f} %) failed their checks; "
            f"tolerate-failed-percent is {spec.tolerate_failed_percent:g}",
        )
    else:
        _write_answers(s3, job)
        manifest["out_key"] = spec.out_key(job.version)
    s3.put_object(Bucket=bucket, Key=spec.manifest_key(job.version), Body=json.dumps(manifest, indent=2).encode())
    keys = [{"Key": job.part_key(i, suffix)} for i in range(len(job.ranges)) for suffix in ("out", "json")]
    for start in range(0, len(keys), 1000):
        s3.delete_objects(Bucket=bucket, Delete={"Objects": keys[start : start + 1000], "Quiet": True})
    return manifest


def _write_answers(s3: Store, job: Plan) -> None:
    """The answer file in one multipart upload, part after part in order: complete or not there at all."""
    spec = job.job
    bucket = spec.bucket
    upload = _Upload(s3, bucket, spec.out_key(job.version))
    try:
        if spec.format == "parquet":
            parts = [functools.partial(_part_table, s3, bucket, job.part_key(i, "out")) for i in range(len(job.ranges))]
            empty = None if parts else _empty_answers(s3, job)
            parquet.write_parts(parts, empty, upload.write)
        else:
            if spec.format == "csv":
                upload.write(answer_header(job.names, job.output_names, join=spec.join))
            for index in range(len(job.ranges)):
                upload.write(_body(s3.get_object(Bucket=bucket, Key=job.part_key(index, "out"))))
        upload.complete()
    except BaseException:
        upload.abort()
        raise


def _part_table(s3: Store, bucket: str, key: str) -> Any:
    return parquet.read_table(_body(s3.get_object(Bucket=bucket, Key=key)))


def _empty_answers(s3: Store, job: Plan) -> Any:
    """The answers of a Parquet file with no row groups: no rows, the columns typed (the input's with ``join``)."""
    spec = job.job
    schema = None
    if spec.join:
        schema = parquet.open_file(_reader(s3, spec.bucket, spec.key, job.input_version_id), job.size).schema_arrow
    return parquet.empty_answers(job.output_names, job.output_datatype, schema)


class _Upload:
    """A multipart upload written in order: bytes buffered into parts of at least ``MIN_UPLOAD_PART``."""

    def __init__(self, s3: Store, bucket: str, key: str) -> None:
        self.s3, self.bucket, self.key = s3, bucket, key
        self.id = s3.create_multipart_upload(Bucket=bucket, Key=key)["UploadId"]
        self.parts: list[dict[str, Any]] = []
        self.buffer = bytearray()

    def write(self, data: bytes) -> None:
        self.buffer += data
        if len(self.buffer) >= MIN_UPLOAD_PART:
            self._send()

    def complete(self) -> None:
        if self.buffer or not self.parts:
            self._send()
        self.s3.complete_multipart_upload(
            Bucket=self.bucket, Key=self.key, UploadId=self.id, MultipartUpload={"Parts": self.parts}
        )

    def abort(self) -> None:
        self.s3.abort_multipart_upload(Bucket=self.bucket, Key=self.key, UploadId=self.id)

    def _send(self) -> None:
        number = len(self.parts) + 1
        answer = self.s3.upload_part(
            Bucket=self.bucket, Key=self.key, UploadId=self.id, PartNumber=number, Body=bytes(self.buffer)
        )
        self.parts.append({"ETag": answer["ETag"], "PartNumber": number})
        self.buffer.clear()


def _manifest(spec: JobSpec, job: Plan, rows_in: int, rows_out: int, failed: int, execution: str) -> dict[str, Any]:
    return {
        "status": "SUCCEEDED",
        "model": spec.model,
        "version": str(job.version),
        "sha256": job.sha256,
        "runtime": job.runtime,
        "rows_in": rows_in,
        "rows_out": rows_out,
        "rows_failed": failed,
        "errors_key": None,
        "reason": None,
        "started_at": job.started_at,
        "finished_at": _now(),
        "execution_arn": execution or None,
        "input_version_id": job.input_version_id,
    }


def _failer(s3: Store, spec: JobSpec, version_id: str | None, started: str, execution: str) -> Callable[..., JobFailed]:
    def fail(reason: str, version: int) -> JobFailed:
        manifest = {
            "status": "FAILED",
            "model": spec.model,
            "version": str(version) if version else None,
            "reason": reason,
            "rows_in": 0,
            "rows_out": 0,
            "rows_failed": 0,
            "errors_key": None,
            "started_at": started,
            "finished_at": _now(),
            "execution_arn": execution or None,
            "input_version_id": version_id,
        }
        folder = version if version else "latest"
        key = f"output/{spec.model}/{folder}/{spec.file_name}.manifest.json"
        s3.put_object(Bucket=spec.bucket, Key=key, Body=json.dumps(manifest, indent=2).encode())
        return JobFailed(reason, manifest)

    return fail


def _reader(s3: Store, bucket: str, key: str, version_id: str | None) -> Callable[[int, int], bytes]:
    return functools.partial(_read, s3, bucket, key, version_id)


def _read(s3: Store, bucket: str, key: str, version_id: str | None, first: int, last: int) -> bytes:
    if last < first:
        return b""
    request: dict[str, Any] = {"Bucket": bucket, "Key": key, "Range": f"bytes={first}-{last}"}
    if version_id:
        request["VersionId"] = version_id
    return _body(s3.get_object(**request))


def _body(response: dict[str, Any]) -> bytes:
    stream = response["Body"]
    try:
        data: bytes = stream.read()
    finally:
        stream.close()
    return data


def _now() -> str:
    return datetime.now(UTC).isoformat()
