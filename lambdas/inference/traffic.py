"""Each model's published serving settings, kept in step with their file as the model cache keeps models, and the
draws made from them: which version takes an unversioned request, whether the shadow answers it, whether it is
captured.

A model's settings are trusted for ``refresh_seconds``; then one ``stat`` tells whether the file changed. A file
that cannot be read as settings keeps the last good ones serving (the loader writes atomically, so this is a record
from another release, not a half-written one) and is not read again until it changes.

Draws are uniform over the weights; with a route key, the draw is a stable hash of the key, the same in every
process, so one caller keeps meeting one version while the weights stay the same.
"""

from __future__ import annotations

import bisect
import hashlib
import random
import threading
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass
from pathlib import Path

from lambdas.common.serving import PublishedSettings, ServingSettings, settings_path

# Shares of traffic, not secrets: a fast generator is the right one.
_random = random.Random()  # noqa: S311


@dataclass(frozen=True)
class _Entry:
    published: PublishedSettings | None
    stamp: tuple[int, int, int] | None  # inode, size, mtime of the file read; None while there is none
    checked_at: float


class TrafficTable:
    def __init__(self, model_dir: Path, *, refresh_seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._model_dir = model_dir
        self._refresh = refresh_seconds
        self._clock = clock
        self._entries: dict[str, _Entry] = {}
        self._lock = threading.Lock()

    def settings(self, name: str) -> ServingSettings | None:
        published = self.published(name)
        return published.settings if published is not None else None

    def published(self, name: str) -> PublishedSettings | None:
        """The model's settings as last published, re-read when their file changed."""
        now = self._clock()
        entry = self._entries.get(name)
        if entry is not None and now - entry.checked_at < self._refresh:
            return entry.published
        with self._lock:
            entry = self._entries.get(name)
            if entry is not None and now - entry.checked_at < self._refresh:
                return entry.published
            entry = self._reread(name, entry, now)
            if entry.stamp is None and not settings_path(self._model_dir, name).parent.is_dir():
                # Not a model: not remembered, so requests for made-up names cannot grow the table.
                self._entries.pop(name, None)
            else:
                self._entries[name] = entry
            return entry.published

    def _reread(self, name: str, entry: _Entry | None, now: float) -> _Entry:
        path = settings_path(self._model_dir, name)
        try:
            status = path.stat()
        except OSError:  # no settings (or none any more): the latest version serves
            return _Entry(None, None, now)
        stamp = (status.st_ino, status.st_size, status.st_mtime_ns)
        if entry is not None and entry.stamp == stamp:
            return _Entry(entry.published, stamp, now)
        try:
            published = PublishedSettings.from_json(path.read_bytes())
        except OSError:
            published = None
        if published is None:  # not settings this code reads: the last good ones keep serving
            return _Entry(entry.published if entry is not None else None, stamp, now)
        return _Entry(published, stamp, now)


def draw_version(settings: ServingSettings, route_key: str | None, excluded: Collection[int] = ()) -> int | None:
    """The version a request goes to by the weights, leaving out ``excluded`` (versions found gone); None when no
    weighted version is left."""
    versions, bounds = settings.bounds
    if excluded:
        versions, bounds = _without(settings.traffic, excluded)
    if not versions:
        return None
    total = bounds[-1]
    point = key_point(route_key) % total if route_key else int(_random.random() * total)
    return versions[bisect.bisect_right(bounds, point)]


def _without(
    traffic: tuple[tuple[int, int], ...], excluded: Collection[int]
) -> tuple[tuple[int, ...], tuple[int, ...]]:
    kept = tuple((version, weight) for version, weight in traffic if version not in excluded)
    return ServingSettings(traffic=kept).bounds


def key_point(route_key: str) -> int:
    """A route key's stable place: the same integer in every process and every run."""
    return int.from_bytes(hashlib.blake2b(route_key.encode("utf-8", "surrogatepass"), digest_size=8).digest(), "big")


def sampled(percent: float) -> bool:
    """Whether one request falls in a sampled share; free when the share is 0 or 100."""
    if percent <= 0:
        return False
    return percent >= 100 or _random.random() * 100 < percent
