"""Faults while loading: the published model survives every one, and the handler raises exactly when a retry helps.

Transient faults (S3 errors, a broken or short stream, a full disk, a failed rename, a crash) raise so that Lambda
retries the event; faults in the object itself (truncated or corrupt model, checksum mismatch, object gone) return.
"""

from __future__ import annotations

import errno
import os
import select
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError, ResponseStreamingError

from lambdas.common.models import load_model
from lambdas.common.settings import Settings
from lambdas.loader import download, handler
from lambdas.loader.process import Status, process_event
from lambdas.loader.state import model_lock
from tests.support.events import s3_event
from tests.support.loader import BUCKET, Loader, Models, counts, sha256
from tests.support.paths import REPO


class FaultyBody:
    """A response body that delivers the first half of the object, then breaks the connection or just ends."""

    def __init__(self, data: bytes, fault: str) -> None:
        self.data = data
        self.fault = fault

    def iter_chunks(self, chunk_size: int) -> Iterator[bytes]:
        yield self.data[: len(self.data) // 2]
        if self.fault == "reset":
            raise ResponseStreamingError(error="Connection broken: ConnectionResetError(104, 'Connection reset')")

    def close(self) -> None:
        return None


class FaultyS3:
    """The moto client, except that reads of ``failing_key`` go wrong in the way ``fault`` names."""

    def __init__(self, real: Any, fault: str, failing_key: str = "iris.joblib") -> None:
        self.real = real
        self.fault = fault
        self.failing_key = failing_key

    def head_object(self, **kwargs: Any) -> dict[str, Any]:
        response: dict[str, Any] = self.real.head_object(**kwargs)
        return response

    def get_object(self, **kwargs: Any) -> dict[str, Any]:
        if kwargs["Key"] != self.failing_key:
            response: dict[str, Any] = self.real.get_object(**kwargs)
            return response
        if self.fault == "throttled":
            error = {"Code": "SlowDown", "Message": "Please reduce your request rate."}
            raise ClientError({"Error": error, "ResponseMetadata": {"HTTPStatusCode": 503}}, "GetObject")
        response = self.real.get_object(**kwargs)
        response["Body"] = FaultyBody(response["Body"].read(), self.fault)
        return response


def assert_previous_model_serves(loader: Loader, expected: bytes) -> None:
    model_file = loader.model_file("iris")
    assert model_file is not None and model_file.read_bytes() == expected
    assert type(load_model(model_file)).__name__ == "LogisticRegression"


def temp_files(model_dir: Path) -> list[str]:
    return sorted(p.name for p in (model_dir / "models").rglob(".*"))


@pytest.fixture
def published(versioned_s3: Any, loader: Loader, models: Models) -> Loader:
    """A repository already serving the logistic model as iris version 1."""
    assert loader.invoke(loader.put("iris.joblib", models.logistic)) == counts(published=1)
    return loader


@pytest.mark.parametrize("fault", ["reset", "truncated", "throttled"])
def test_s3_faults_raise_for_a_retry_and_keep_the_previous_model(
    published: Loader, models: Models, monkeypatch: pytest.MonkeyPatch, fault: str
) -> None:
    record = published.put("iris.joblib", models.tree)
    monkeypatch.setattr(handler, "s3_client", lambda: FaultyS3(published.s3, fault))

    with pytest.raises(handler.RetryableError, match="1 record"):
        published.invoke(record)

    assert_previous_model_serves(published, models.logistic)
    assert temp_files(published.model_dir) == []
    monkeypatch.setattr(handler, "s3_client", lambda: published.s3)
    assert published.invoke(record) == counts(published=1), "the retried event is applied, not skipped"


def test_a_full_disk_raises_for_a_retry_and_frees_the_partial_file(
    published: Loader, models: Models, monkeypatch: pytest.MonkeyPatch
) -> None:
    record = published.put("iris.joblib", models.tree)

    def disk_full(fd: int, data: bytes | memoryview) -> None:
        os.write(fd, bytes(data)[:100])
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(download, "write_all", disk_full)
    with pytest.raises(handler.RetryableError, match="No space left"):
        published.invoke(record)

    assert_previous_model_serves(published, models.logistic)
    assert temp_files(published.model_dir) == []
    monkeypatch.undo()
    assert published.invoke(record) == counts(published=1)


def test_a_failed_rename_raises_for_a_retry_and_keeps_the_previous_model(
    published: Loader, models: Models, monkeypatch: pytest.MonkeyPatch
) -> None:
    record = published.put("iris.joblib", models.tree)
    real_replace = Path.replace

    def failing_replace(self: Path, target: Any) -> Path:
        if Path(target).name.startswith("model."):
            raise OSError(errno.EIO, os.strerror(errno.EIO))
        return real_replace(self, target)

    monkeypatch.setattr(Path, "replace", failing_replace)
    with pytest.raises(handler.RetryableError):
        published.invoke(record)
    monkeypatch.undo()

    assert_previous_model_serves(published, models.logistic)
    assert temp_files(published.model_dir) == []
    assert published.invoke(record) == counts(published=1)


CRASHING_PUBLISH = """
import os, sys
from pathlib import Path

import boto3
from moto import mock_aws

from lambdas.common.settings import Settings
from lambdas.loader.process import process_event
from tests.support.events import s3_event, s3_record

real_replace = Path.replace


def die_before_the_model_rename(self, target):
    if Path(target).name.startswith("model."):
        os._exit(70)
    return real_replace(self, target)


Path.replace = die_before_the_model_rename
with mock_aws():
    s3 = boto3.client("s3", region_name="us-east-1")
    s3.create_bucket(Bucket="models")
    etag = s3.put_object(Bucket="models", Key="iris.joblib", Body=Path(sys.argv[2]).read_bytes())["ETag"]
    event = s3_event(s3_record("ObjectCreated:Put", "iris.joblib", etag=etag))
    process_event(s3, event, Settings.from_env({"MODEL_DIR": sys.argv[1]}))
sys.exit(0)
"""


def test_a_crash_between_write_and_rename_keeps_the_previous_model_and_the_next_publish_cleans_up(
    published: Loader, models: Models, tmp_path: Path
) -> None:
    new_model = tmp_path / "tree.joblib"
    new_model.write_bytes(models.tree)

    crashed = subprocess.run(
        [sys.executable, "-c", CRASHING_PUBLISH, str(published.model_dir), str(new_model)],
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert crashed.returncode == 70, crashed.stderr
    assert len(temp_files(published.model_dir)) == 2, "the crash leaves the model's and its conversion's temp files"
    assert_previous_model_serves(published, models.logistic)
    assert published.invoke(published.put("iris.joblib", models.tree)) == counts(published=1)
    assert temp_files(published.model_dir) == []
    assert published.files_in("iris") == ["metadata.json", "model.joblib", "model.onnx"]


@pytest.mark.parametrize("body", ["truncated model", "checksum mismatch"])
def test_faults_in_the_object_itself_return_without_a_retry(published: Loader, models: Models, body: str) -> None:
    if body == "truncated model":
        record = published.put("iris.joblib", models.tree[: len(models.tree) * 2 // 3])
    else:
        record = published.put("iris.joblib", models.tree, Metadata={"sha256": sha256(models.logistic)})

    assert published.invoke(record) == counts(failed=1)

    assert_previous_model_serves(published, models.logistic)
    assert temp_files(published.model_dir) == []
    assert published.invoke(record) == counts(skipped=1), "a redelivery does not try again"


def test_an_object_gone_before_it_was_read_returns_without_a_retry(published: Loader, models: Models) -> None:
    record = published.put("iris.joblib", models.tree)
    published.s3.delete_object(Bucket=BUCKET, Key="iris.joblib", VersionId=record["s3"]["object"]["versionId"])

    assert published.invoke(record) == counts(skipped=1)
    assert_previous_model_serves(published, models.logistic)


def test_one_transient_failure_does_not_stop_the_other_records_and_the_retry_finishes_the_event(
    published: Loader, models: Models, monkeypatch: pytest.MonkeyPatch
) -> None:
    event_records = [published.put("iris.joblib", models.tree), published.put("other.joblib", models.logistic)]
    monkeypatch.setattr(handler, "s3_client", lambda: FaultyS3(published.s3, "reset"))

    with pytest.raises(handler.RetryableError):
        published.invoke(*event_records)
    assert published.model_file("other") is not None

    monkeypatch.setattr(handler, "s3_client", lambda: published.s3)
    assert published.invoke(*event_records) == counts(published=1, skipped=1)
    model_file = published.model_file("iris")
    assert model_file is not None and model_file.read_bytes() == models.tree


HOLD_LOCK = """
import sys
from pathlib import Path

from lambdas.loader.state import model_lock

with model_lock(Path(sys.argv[1]), "iris", timeout=5):
    print("held", flush=True)
    sys.stdin.read()
"""


@contextmanager
def lock_held_by_a_thread(model_dir: Path) -> Iterator[None]:
    holding, release = threading.Event(), threading.Event()

    def other_writer() -> None:
        with model_lock(model_dir, "iris", timeout=5):
            holding.set()
            release.wait(timeout=30)

    writer = threading.Thread(target=other_writer)
    writer.start()
    try:
        assert holding.wait(timeout=10)
        yield
    finally:
        release.set()
        writer.join(timeout=10)


@contextmanager
def lock_held_by_another_process(model_dir: Path) -> Iterator[None]:
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_LOCK, str(model_dir)],
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdin is not None and holder.stdout is not None
    try:
        ready, _, _ = select.select([holder.stdout], [], [], 30)
        assert ready and holder.stdout.readline().strip() == "held"
        yield
    finally:
        holder.stdin.close()
        try:
            holder.wait(timeout=10)
        except subprocess.TimeoutExpired:
            holder.kill()
            holder.wait(timeout=10)


@pytest.mark.parametrize("holder", [lock_held_by_a_thread, lock_held_by_another_process])
def test_a_model_locked_by_another_writer_is_retried_after_a_bounded_wait(
    published: Loader, models: Models, holder: Callable[[Path], AbstractContextManager[None]]
) -> None:
    record = published.put("iris.joblib", models.tree)
    settings = Settings.from_env({"MODEL_DIR": str(published.model_dir)})

    with holder(published.model_dir):
        started = time.monotonic()
        summary = process_event(published.s3, s3_event(record), settings, lock_timeout=0.3)
        waited = time.monotonic() - started

    # It returned while the other writer still held the lock, after waiting out its timeout: a bounded wait.
    assert [o.status for o in summary.outcomes] == [Status.RETRY]
    assert waited >= 0.3
    assert_previous_model_serves(published, models.logistic)
    assert process_event(published.s3, s3_event(record), settings).counts()["published"] == 1
