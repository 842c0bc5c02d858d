"""A model's serving settings: which versions take its unversioned traffic and in what shares, which version answers
in the shadow of the served one, and what share of requests is captured.

Uploaded as ``<prefix>MODEL/serving.json`` and published by the loader to ``models/MODEL/serving.json``:

    {"traffic": {"3": 90, "4": 10}, "shadow": {"version": "5", "percent": 20}, "capture": {"percent": 10}}

Every key is optional. The loader checks the upload (``parse_settings``) and the versions it names, and writes the
published record (``PublishedSettings``), which carries the settings, where they came from, and the versions that
last had all the traffic (what ``rollback`` goes back to). The inference function reads that record alone.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lambdas.common.repository import models_root, parse_version
from lambdas.common.verdicts import Verdict

SETTINGS_FILE = "serving.json"
SETTINGS_VERDICT_FILE = "serving.verdict.json"
FORMAT_VERSION = 1
MAX_SETTINGS_BYTES = 64 * 1024
# How many versions that had all the traffic are remembered, newest last.
SOLE_HISTORY = 10
_KEYS = frozenset({"traffic", "shadow", "capture"})


class SettingsError(ValueError):
    """Serving settings that cannot be published; the message says what to change."""


@dataclass(frozen=True)
class Shadow:
    version: int
    percent: float  # of the routed requests that the shadow version answers too

    def to_json(self) -> dict[str, Any]:
        return {"version": str(self.version), "percent": _number(self.percent)}


@dataclass(frozen=True)
class ServingSettings:
    traffic: tuple[tuple[int, int], ...] = ()  # (version, weight), ascending by version; empty: latest serves
    shadow: Shadow | None = None
    capture_percent: float = 0.0

    @functools.cached_property
    def bounds(self) -> tuple[tuple[int, ...], tuple[int, ...]]:
        """The versions with a positive weight, and the running totals of their weights: a draw below bound i goes
        to version i."""
        versions, bounds, total = [], [], 0
        for version, weight in self.traffic:
            if weight > 0:
                total += weight
                versions.append(version)
                bounds.append(total)
        return tuple(versions), tuple(bounds)

    @property
    def follows_answers(self) -> bool:
        """Whether anything follows an answer: a capture share or a shadow."""
        return self.capture_percent > 0 or self.shadow is not None

    @property
    def versions(self) -> tuple[int, ...]:
        """Every version the settings name."""
        named = [version for version, _ in self.traffic]
        if self.shadow is not None:
            named.append(self.shadow.version)
        return tuple(sorted(set(named)))

    @property
    def sole_version(self) -> int | None:
        """The version that takes all the traffic, when one does."""
        serving = [version for version, weight in self.traffic if weight > 0]
        return serving[0] if len(serving) == 1 else None

    def to_json(self) -> dict[str, Any]:
        """The settings as a user writes them."""
        written: dict[str, Any] = {}
        if self.traffic:
            written["traffic"] = {str(version): weight for version, weight in self.traffic}
        if self.shadow is not None:
            written["shadow"] = self.shadow.to_json()
        if self.capture_percent:
            written["capture"] = {"percent": _number(self.capture_percent)}
        return written


def parse_settings(data: bytes) -> ServingSettings:
    """The settings an upload holds, or SettingsError naming what is wrong; versions are not looked up here."""
    if len(data) > MAX_SETTINGS_BYTES:
        raise SettingsError(f"serving.json is {len(data):,} bytes; at most {MAX_SETTINGS_BYTES:,} are read")
    try:
        body = json.loads(data)
    except (ValueError, UnicodeDecodeError) as error:
        raise SettingsError(f"serving.json is not JSON: {error}") from None
    return settings_from_json(body)


def settings_from_json(body: Any) -> ServingSettings:
    if not isinstance(body, dict):
        raise SettingsError("serving.json must hold a JSON object")
    unknown = sorted(set(body) - _KEYS)
    if unknown:
        raise SettingsError(f"serving.json has unknown keys {unknown}; known: {sorted(_KEYS)}")
    return ServingSettings(
        traffic=_traffic(body.get("traffic")),
        shadow=_shadow(body.get("shadow")),
        capture_percent=_percent(_section(body, "capture", ("percent",)).get("percent", 0), "capture.percent"),
    )


def _traffic(raw: Any) -> tuple[tuple[int, int], ...]:
    if raw is None:
        return ()
    if not isinstance(raw, dict) or not raw:
        raise SettingsError('"traffic" must be an object of version to weight, e.g. {"3": 90, "4": 10}')
    weights = []
    for text, weight in raw.items():
        version = parse_version(str(text))
        if version is None:
            raise SettingsError(f"traffic names {text!r}, which is not a version (a positive integer)")
        if isinstance(weight, bool) or not isinstance(weight, int) or weight < 0:
            raise SettingsError(f"the weight of version {version} must be a non-negative integer, got {weight!r}")
        weights.append((version, weight))
    if sum(weight for _, weight in weights) <= 0:
        raise SettingsError("the traffic weights must add up to more than 0")
    return tuple(sorted(weights))


def _shadow(raw: Any) -> Shadow | None:
    if raw is None:
        return None
    section = _section({"shadow": raw}, "shadow", ("version", "percent"))
    text = section.get("version")
    version = parse_version(str(text)) if isinstance(text, str | int) and not isinstance(text, bool) else None
    if version is None:
        raise SettingsError(f"shadow.version must name a version (a positive integer), got {text!r}")
    return Shadow(version, _percent(section.get("percent", 100), "shadow.percent"))


def _section(body: Mapping[str, Any], name: str, keys: tuple[str, ...]) -> dict[str, Any]:
    raw = body.get(name, {})
    if not isinstance(raw, dict):
        raise SettingsError(f'"{name}" must be an object with {", ".join(keys)}')
    unknown = sorted(set(raw) - set(keys))
    if unknown:
        raise SettingsError(f'"{name}" has unknown keys {unknown}; known: {list(keys)}')
    return raw


def _percent(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 100:
        raise SettingsError(f"{where} must be a number from 0 to 100, got {value!r}")
    return float(value)


def _number(value: float) -> int | float:
    return int(value) if value == int(value) else value


@dataclass(frozen=True)
class PublishedSettings:
    """What the loader wrote to ``models/MODEL/serving.json``: the settings and where they came from."""

    settings: ServingSettings
    source_key: str
    etag: str | None
    version_id: str | None
    published_at: str  # ISO 8601, UTC
    sole_history: tuple[int, ...] = field(default=())  # versions that had all the traffic, oldest first

    @property
    def rollback_version(self) -> int | None:
        """The version that last had all the traffic, other than one that has it now."""
        current = self.settings.sole_version
        return next((version for version in reversed(self.sole_history) if version != current), None)

    def to_json(self) -> bytes:
        record = {
            "format": FORMAT_VERSION,
            "settings": self.settings.to_json(),
            "source_key": self.source_key,
            "etag": self.etag,
            "version_id": self.version_id,
            "published_at": self.published_at,
            "sole_history": [str(version) for version in self.sole_history],
        }
        return json.dumps(record, indent=2, sort_keys=True).encode()

    @classmethod
    def from_json(cls, text: str | bytes) -> PublishedSettings | None:
        """The record, or None when it is not one this code wrote (unreadable, or another format)."""
        try:
            data: Any = json.loads(text)
            if not isinstance(data, dict) or data.get("format") != FORMAT_VERSION:
                return None
            history = tuple(int(version) for version in data.get("sole_history", ()))
            return cls(
                settings=settings_from_json(data["settings"]),
                source_key=str(data["source_key"]),
                etag=_optional(data.get("etag")),
                version_id=_optional(data.get("version_id")),
                published_at=str(data["published_at"]),
                sole_history=history,
            )
        except (ValueError, KeyError, TypeError):
            return None


def _optional(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def settings_path(model_dir: Path, name: str) -> Path:
    return models_root(model_dir) / name / SETTINGS_FILE


def settings_verdict_path(model_dir: Path, name: str) -> Path:
    return models_root(model_dir) / name / SETTINGS_VERDICT_FILE


def read_published(model_dir: Path, name: str) -> PublishedSettings | None:
    try:
        return PublishedSettings.from_json(settings_path(model_dir, name).read_bytes())
    except OSError:
        return None


def read_settings_verdict(model_dir: Path, name: str) -> Verdict | None:
    """The loader's verdict on the model's last refused settings upload, while no later one was published."""
    try:
        return Verdict.from_json(settings_verdict_path(model_dir, name).read_text(encoding="utf-8"))
    except OSError:
        return None
