"""Suite-wide: modules marked slow run first, a closing line states both counts for a reader of CI logs (pytest
leaves out zeros), and the fixtures more than one kind of test uses, defined once."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from tests.support.inference import TrainedModels, train_models
from tests.support.loader import BUCKET, FAKE_CREDENTIALS, UNSET, Loader, Models, make_models


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Slow modules first: with one module per worker (``make pytest``), the long ones then overlap the many short
    ones instead of starting last and running alone. Workers are handed tests by id, so two tests sharing one would
    run as one: that stops the run."""
    shared = [nodeid for nodeid, count in Counter(item.nodeid for item in items).items() if count > 1]
    if shared:
        raise pytest.UsageError(f"tests share an id, and a parallel run would run one of them: {shared[:3]}")
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)


def pytest_unconfigure(config: pytest.Config) -> None:
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    if reporter is None or config.option.collectonly:
        return
    passed = len(reporter.stats.get("passed", []))
    failed = len(reporter.stats.get("failed", [])) + len(reporter.stats.get("error", []))
    reporter.write_line(f"{passed} passed, {failed} failed")


@pytest.fixture(scope="session")
def trained() -> TrainedModels:
    return train_models()


@pytest.fixture(scope="session")
def models() -> Models:
    return make_models()


@pytest.fixture
def model_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty model directory (the functions' EFS), named by MODEL_DIR for the handlers that read it."""
    directory = tmp_path / "efs"
    directory.mkdir()
    monkeypatch.setenv("MODEL_DIR", str(directory))
    return directory


@pytest.fixture
def aws_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fake credentials before any client is made, and nothing of the shell's AWS settings."""
    for name, value in FAKE_CREDENTIALS.items():
        monkeypatch.setenv(name, value)
    for name in UNSET:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def s3(aws_credentials: None) -> Iterator[Any]:
    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket=BUCKET)
        yield client


@pytest.fixture
def versioned_s3(s3: Any) -> Any:
    s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
    return s3


@pytest.fixture
def loader(s3: Any, model_dir: Path) -> Loader:
    from lambdas.loader import handler

    # The handler reads settings and creates its client once per process; each test starts a fresh one.
    handler.settings.cache_clear()
    handler.s3_client.cache_clear()
    return Loader(s3, model_dir)
