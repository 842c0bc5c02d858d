"""Model directories made the way users make them: upload to S3, and the loader publishes what the event names."""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from bench.environment import overlay
from bench.timing import BenchError
from lambdas.common.repository import version_dir
from lambdas.common.settings import Settings
from lambdas.loader.process import Status, process_event
from local_stack.moto_server import FAKE_CREDENTIALS
from tests.support.events import s3_event, s3_record

BUCKET = "models"
_sequencers = itertools.count(0x10000)


def s3_client(endpoint: str) -> Any:
    import boto3

    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name=FAKE_CREDENTIALS["AWS_DEFAULT_REGION"],
        aws_access_key_id=FAKE_CREDENTIALS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=FAKE_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        aws_session_token=FAKE_CREDENTIALS["AWS_SESSION_TOKEN"],
    )


def created_event(key: str, put_response: Mapping[str, Any], size: int) -> dict[str, Any]:
    """The ObjectCreated notification S3 sends for an upload, with a fresh (increasing) sequencer."""
    record = s3_record(
        "ObjectCreated:Put",
        key,
        bucket=BUCKET,
        version_id=put_response.get("VersionId"),
        etag=put_response["ETag"],
        size=size,
        sequencer=f"0069A1B2C3{next(_sequencers):08X}",
    )
    return s3_event(record)


def published_file(model_dir: Path, name: str) -> Path:
    """The file the loader published for ``<name>.joblib``: the original pickle, whatever else sits beside it."""
    path = version_dir(model_dir, name, 1) / "model.joblib"
    if not path.is_file():
        raise BenchError(f"the loader published no {path}")
    return path


def publish(
    s3: Any, models: Mapping[str, bytes], env: Mapping[str, str], samples: Mapping[str, bytes] | None = None
) -> None:
    """Upload each model as ``<name>.joblib`` (after its ``<name>.sample.json`` when ``samples`` has one) and let
    the loader publish it into ``env["MODEL_DIR"]``."""
    settings = Settings.from_env(env)
    with overlay(env):
        for name, blob in (samples or {}).items():
            key = f"{name}.sample.json"
            put = s3.put_object(Bucket=BUCKET, Key=key, Body=blob)
            process_event(s3, created_event(key, put, len(blob)), settings)
        for name, blob in models.items():
            key = f"{name}.joblib"
            put = s3.put_object(Bucket=BUCKET, Key=key, Body=blob)
            summary = process_event(s3, created_event(key, put, len(blob)), settings)
            outcome = summary.outcomes[0]
            if outcome.status is not Status.PUBLISHED:
                raise BenchError(f"the loader did not publish {key}: {outcome.status.value}: {outcome.reason}")
