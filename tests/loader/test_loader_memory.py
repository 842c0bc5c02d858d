"""A large model streams through the loader: its memory does not grow with the object's size.

S3 runs as a moto server in a child process on a free loopback port, so the only allocations traced are the
loader's own (an in-process mock would hold the whole object in this process's memory).
"""

from __future__ import annotations

import gc
import hashlib
import tracemalloc
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest

from lambdas.common.metadata import read_metadata
from lambdas.common.repository import version_dir
from lambdas.common.settings import Settings
from lambdas.loader.process import process_event
from local_stack.moto_server import moto_server as start_moto_server
from tests.support.events import s3_event, s3_record
from tests.support.loader import Models

OBJECT_BYTES = 64 * 1024 * 1024
PEAK_LIMIT = 8 * 1024 * 1024


@pytest.fixture
def moto_server(aws_credentials: None) -> Iterator[str]:
    with start_moto_server() as endpoint:
        yield endpoint


def test_publishing_a_64_mib_model_keeps_memory_flat(moto_server: str, tmp_path: Path, models: Models) -> None:
    s3 = boto3.client("s3", endpoint_url=moto_server, region_name="us-east-1")
    s3.create_bucket(Bucket="models")
    # A real model followed by padding: it loads in a moment, yet every byte is downloaded, hashed and written.
    body = models.logistic + bytes(OBJECT_BYTES - len(models.logistic))
    expected_sha256 = hashlib.sha256(body).hexdigest()
    put = s3.put_object(Bucket="models", Key="big.joblib", Body=body, Metadata={"sha256": expected_sha256})
    del body
    event = s3_event(s3_record("ObjectCreated:Put", "big.joblib", etag=put["ETag"], size=OBJECT_BYTES, sequencer="0A"))
    settings = Settings.from_env({"MODEL_DIR": str(tmp_path / "efs")})
    gc.collect()

    tracemalloc.start()
    try:
        summary = process_event(s3, event, settings)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert summary.counts()["published"] == 1, summary.outcomes
    assert peak < PEAK_LIMIT, f"peak {peak / 2**20:.1f} MiB while publishing {OBJECT_BYTES / 2**20:.0f} MiB"
    metadata = read_metadata(version_dir(settings.model_dir, "big", 1))
    assert metadata is not None
    assert (metadata.size, metadata.sha256) == (OBJECT_BYTES, expected_sha256)
    assert (settings.model_dir / "models" / "big" / "1" / "model.joblib").stat().st_size == OBJECT_BYTES
