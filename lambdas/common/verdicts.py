"""The loader's verdict on a version it refused: a small record in the version directory, ``verdict.json``, so the
API can say why a version is not served (``/ready`` answers 503 with the reason, the repository index lists it as
``UNAVAILABLE``) instead of not knowing it at all. A later good upload of the same version removes it, and so does
deleting the key that was refused.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

VERDICT_FILE = "verdict.json"
FORMAT_VERSION = 1


@dataclass(frozen=True)
class Verdict:
    reason: str
    source_key: str
    refused_at: str  # ISO 8601, UTC
    sha256: str | None = None  # of the refused model file, once it was read
    fingerprint: str | None = None  # the S3 objects an MLflow directory was refused from
    etag: str | None = None  # of the refused object, so the uploader can tell its upload was the one refused

    def to_json(self) -> bytes:
        return json.dumps({"format": FORMAT_VERSION, **asdict(self)}, indent=2, sort_keys=True).encode()

    @classmethod
    def from_json(cls, text: str) -> Verdict | None:
        try:
            data: Any = json.loads(text)
            if not isinstance(data, dict) or data.pop("format", None) != FORMAT_VERSION:
                return None
            return cls(
                reason=str(data["reason"]),
                source_key=str(data["source_key"]),
                refused_at=str(data["refused_at"]),
                sha256=_optional(data.get("sha256")),
                fingerprint=_optional(data.get("fingerprint")),
                etag=_optional(data.get("etag")),
            )
        except (ValueError, KeyError, TypeError):
            return None


def _optional(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def read_verdict(directory: Path) -> Verdict | None:
    """The verdict a version directory holds, or None (none, or unreadable)."""
    try:
        return Verdict.from_json((directory / VERDICT_FILE).read_text(encoding="utf-8"))
    except OSError:
        return None
