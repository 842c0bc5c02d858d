"""Recording the loader's verdict on an upload it refused, for the API to show (see ``lambdas.common.verdicts``)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from lambdas.common.repository import ModelKey, version_dir
from lambdas.common.verdicts import VERDICT_FILE, Verdict
from lambdas.loader.files import fsync_dir, write_atomically


def record_verdict(
    model_dir: Path,
    target: ModelKey,
    key: str,
    reason: str,
    *,
    sha256: str | None = None,
    fingerprint: str | None = None,
) -> None:
    """Leave the loader's reason for refusing ``key`` in its version directory, for the API to show."""
    directory = version_dir(model_dir, target.name, target.version)
    directory.mkdir(parents=True, exist_ok=True)
    verdict = Verdict(
        reason=reason,
        source_key=key,
        refused_at=datetime.now(UTC).isoformat(),
        sha256=sha256,
        fingerprint=fingerprint,
    )
    write_atomically(directory / VERDICT_FILE, verdict.to_json())
    fsync_dir(directory)
