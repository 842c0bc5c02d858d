"""``serverless-sklearn batch MODEL[/VERSION] FILE``: upload a file of rows as a batch job, wait for its manifest,
print it, and download the answers; the exit status is non-zero when the job failed."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import click
from botocore.exceptions import ClientError
from rich.console import Console
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TransferSpeedColumn

from lambdas.batch.job import FORMATS, JobError, parse_job
from lambdas.common.repository import is_valid_name, parse_version
from serverless_sklearn.deployment import DeploymentError, _terraform_outputs, s3_client

POLL_SECONDS = 1.0
console = Console(soft_wrap=True)


@click.command()
@click.argument("model")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--proba", is_flag=True, help="Answer predict_proba, one column per class, rather than predict.")
@click.option("--join", is_flag=True, help="Each answer row carries the input row's fields first.")
@click.option("--tolerate-failed-percent", type=float, default=0.0, show_default=True, help="Refused rows allowed.")
@click.option("--wait/--no-wait", default=True, show_default=True, help="Wait for the job's manifest.")
@click.option("--download", type=click.Path(dir_okay=False, path_type=Path), help="Save the answers here.")
@click.option("--timeout", type=float, default=3600.0, show_default=True, help="Seconds to wait for the job.")
@click.option("--data-bucket", envvar="SERVERLESS_SKLEARN_DATA_BUCKET", help="The data bucket (data_bucket_name).")
def batch(
    model: str,
    file: Path,
    proba: bool,
    join: bool,
    tolerate_failed_percent: float,
    wait: bool,
    download: Path | None,
    timeout: float,
    data_bucket: str | None,
) -> None:
    """Score FILE (.csv with a header, .jsonl or .parquet) with MODEL (NAME or NAME/VERSION) as a batch job."""
    bucket = data_bucket or _terraform_outputs().get("data_bucket_name")
    if not bucket:
        raise DeploymentError(
            "no data bucket: pass --data-bucket, export SERVERLESS_SKLEARN_DATA_BUCKET (make serve prints it), "
            "or run in the Terraform root after apply"
        )
    name, _, version = model.partition("/")
    if not is_valid_name(name) or (version and parse_version(version) is None):
        raise DeploymentError(f"{model!r} is not NAME or NAME/VERSION")
    key = f"input/{name}/{version + '/' if version else ''}{file.name}"
    metadata = {
        "outputs": "predict_proba" if proba else "predict",
        "tolerate-failed-percent": f"{tolerate_failed_percent:g}",
    }
    if join:
        metadata["join"] = "input"
    try:
        spec = parse_job(bucket, key, metadata)
    except JobError as error:
        raise DeploymentError(f"{error} (formats: {', '.join(FORMATS)})") from None
    s3 = s3_client()
    started = time.time()
    _upload(s3, file, bucket, key, metadata)
    if not wait:
        console.print(f"[bold]started[/] s3://{bucket}/{key}")
        return
    manifest = _wait(s3, bucket, spec.model, spec.version, file.name, started, timeout)
    click.echo(json.dumps(manifest, indent=2))
    if manifest.get("status") != "SUCCEEDED":
        raise DeploymentError(f"the job failed: {manifest.get('reason')}")
    if download is not None:
        s3.download_file(bucket, f"output/{spec.model}/{manifest['version']}/{file.name}.out", str(download))
        console.print(f"[green bold]answers[/] in {download}")


def _upload(s3: Any, file: Path, bucket: str, key: str, metadata: dict[str, str]) -> None:
    columns = (TextColumn("{task.description}"), BarColumn(), DownloadColumn(), TransferSpeedColumn())
    with Progress(*columns, console=console) as progress:
        task = progress.add_task(f"s3://{bucket}/{key}", total=file.stat().st_size)
        s3.upload_file(
            str(file),
            bucket,
            key,
            ExtraArgs={"Metadata": metadata},
            Callback=lambda sent: progress.advance(task, sent),
        )


def _wait(
    s3: Any, bucket: str, model: str, version: int | None, file_name: str, started: float, timeout: float
) -> dict[str, Any]:
    """The job's manifest once one newer than the upload appears; a progress line counts the ranges scored."""
    deadline = time.monotonic() + timeout
    folders = [str(version)] if version else None
    with console.status("waiting for the job") as status:
        while time.monotonic() < deadline:
            for folder in folders or _versions(s3, bucket, model):
                key = f"output/{model}/{folder}/{file_name}.manifest.json"
                try:
                    found = s3.get_object(Bucket=bucket, Key=key)
                except ClientError:
                    continue
                if found["LastModified"].timestamp() >= started - 1:
                    manifest: dict[str, Any] = json.loads(found["Body"].read())
                    return manifest
                found["Body"].close()
            parts = _parts(s3, bucket, model, file_name)
            status.update(f"waiting for the job: {parts} chunk(s) scored")
            time.sleep(POLL_SECONDS)
    raise DeploymentError(f"the job has no manifest after {timeout:.0f} s; see the state machine's executions")


def _versions(s3: Any, bucket: str, model: str) -> list[str]:
    listed = s3.list_objects_v2(Bucket=bucket, Prefix=f"output/{model}/", Delimiter="/")
    folders = [item["Prefix"].rstrip("/").rsplit("/", 1)[-1] for item in listed.get("CommonPrefixes", ())]
    return [*folders, "latest"]  # "latest": where a job refused before its version was known says why


def _parts(s3: Any, bucket: str, model: str, file_name: str) -> int:
    count = 0
    for folder in _versions(s3, bucket, model):
        prefix = f"output/{model}/{folder}/{file_name}.parts/"
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
            count += sum(item["Key"].endswith(".json") for item in page.get("Contents", ()))
    return count
