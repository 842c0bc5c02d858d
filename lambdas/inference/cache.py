"""A process-wide LRU of loaded models, bounded by bytes and kept in step with the files in the repository.

A cached model is trusted for ``refresh_seconds``; after that one ``stat`` tells whether its file changed (inode,
size, mtime). A changed file is loaded before the old model is dropped, so a corrupt or half-written file never
evicts a good model. ``latest`` is the highest published version, re-listed on the same window.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from lambdas.common.models import ModelLoadError, check_estimator, load_model
from lambdas.common.repository import (
    find_model_file,
    is_valid_name,
    list_versions,
    read_metadata,
    version_dir,
)
from lambdas.inference.errors import ModelNotFound, ModelUnavailable
from lambdas.inference.observability import logger
from lambdas.inference.tensors import datatype_of

# Loads of different models may run in parallel; loads of one model are serialised by one of these locks.
_LOAD_LOCK_STRIPES = 32


class FileStamp(NamedTuple):
    inode: int
    size: int
    mtime_ns: int

    @classmethod
    def of(cls, path: Path) -> FileStamp:
        status = path.stat()
        return cls(status.st_ino, status.st_size, status.st_mtime_ns)


@dataclass(frozen=True)
class LoadedModel:
    name: str
    version: int
    estimator: Any
    feature_count: int | None
    stamp: FileStamp
    label_datatype: str
    class_count: int | None
    has_proba: bool

    @property
    def size_bytes(self) -> int:
        """What the model is assumed to cost in memory: its file size, at least one byte."""
        return max(self.stamp.size, 1)


@dataclass(frozen=True)
class _Entry:
    model: LoadedModel | None  # None while the file on disk has never loaded
    checked_at: float
    failed_stamp: FileStamp | None = None
    failure: str = ""


class ModelCache:
    def __init__(
        self,
        model_dir: Path,
        *,
        max_bytes: int,
        refresh_seconds: float,
        allowed_suffixes: frozenset[str] | None = None,
        on_event: Callable[[str], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.model_dir = model_dir
        self.max_bytes = max_bytes
        self.refresh_seconds = refresh_seconds
        self._allowed = allowed_suffixes
        self._on_event = on_event
        self._clock = clock
        self._lock = threading.Lock()
        self._load_locks = [threading.Lock() for _ in range(_LOAD_LOCK_STRIPES)]
        self._entries: OrderedDict[tuple[str, int], _Entry] = OrderedDict()
        self._bytes = 0
        self._latest: dict[str, tuple[tuple[int, ...], float]] = {}

    def get(self, name: str, version: int | None = None) -> LoadedModel:
        """The model to serve, loading or re-validating it when needed; ``None`` means the latest version."""
        if version is not None:
            return self._get(name, version, self._clock())
        now = self._clock()
        latest = self._latest_version(name, now, fresh=False)
        try:
            return self._get(name, latest, now)
        except ModelNotFound:
            # The cached listing named a version that has since been deleted: list again, once.
            return self._get(name, self._latest_version(name, now, fresh=True), now)

    def versions(self, name: str) -> list[int]:
        """Published versions of a model, ascending, from the listing cached for the refresh window."""
        if not is_valid_name(name):
            return []
        return list(self._listing(name, self._clock(), fresh=False))

    @property
    def cached_bytes(self) -> int:
        return self._bytes

    def cached(self) -> dict[tuple[str, int], str | None]:
        """Models this process has tried to load: None when it serves one, else the reason it cannot load."""
        with self._lock:
            entries = list(self._entries.items())
        return {key: (None if entry.model is not None else entry.failure) for key, entry in entries}

    def _get(self, name: str, version: int, now: float) -> LoadedModel:
        key = (name, version)
        entry = self._entries.get(key)
        if entry is not None and now - entry.checked_at < self.refresh_seconds:
            with self._lock:
                if key in self._entries:
                    self._entries.move_to_end(key)
            return _served(entry)
        if not is_valid_name(name):
            raise ModelNotFound(name)
        with self._load_locks[hash(key) % _LOAD_LOCK_STRIPES]:
            return self._revalidate(key)

    def _revalidate(self, key: tuple[str, int]) -> LoadedModel:
        now = self._clock()
        entry = self._entries.get(key)
        if entry is not None and now - entry.checked_at < self.refresh_seconds:
            return _served(entry)  # another thread checked it while this one waited
        name, version = key
        path = find_model_file(version_dir(self.model_dir, name, version), self._allowed)
        stamp = _stamp(path)
        if path is None or stamp is None:
            self._forget(key)
            raise ModelNotFound(name, version)
        if entry is not None and (stamp == entry.failed_stamp or (entry.model and entry.model.stamp == stamp)):
            self._store(key, _Entry(entry.model, now, entry.failed_stamp, entry.failure))
            return _served(entry)
        try:
            model = _load(name, version, path, stamp)
        except ModelLoadError as error:
            self._emit("ModelLoadFailed")
            kept = entry.model if entry is not None else None
            logger.warning(
                "model file does not load",
                extra={"model": name, "version": version, "reason": str(error), "serving_previous": bool(kept)},
            )
            failure = f"model {name!r} version {version} cannot be loaded: {error}"
            failed = _Entry(kept, now, stamp, failure)
            self._store(key, failed)
            return _served(failed)
        self._emit("ModelLoaded")
        logger.info("model loaded", extra={"model": name, "version": version, "bytes": model.size_bytes})
        self._store(key, _Entry(model, now))
        return model

    def _store(self, key: tuple[str, int], entry: _Entry) -> None:
        evicted = []
        with self._lock:
            previous = self._entries.pop(key, None)
            self._bytes -= _cost(previous)
            self._entries[key] = entry
            self._bytes += _cost(entry)
            while self._bytes > self.max_bytes and len(self._entries) > 1:
                oldest, dropped = next(iter(self._entries.items()))
                if oldest == key:
                    break
                del self._entries[oldest]
                self._bytes -= _cost(dropped)
                evicted.append(oldest)
        for name, version in evicted:
            self._emit("ModelEvicted")
            logger.info("model evicted from the cache", extra={"model": name, "version": version})

    def _forget(self, key: tuple[str, int]) -> None:
        with self._lock:
            self._bytes -= _cost(self._entries.pop(key, None))

    def _latest_version(self, name: str, now: float, *, fresh: bool) -> int:
        versions = self._listing(name, now, fresh=fresh) if is_valid_name(name) else ()
        if not versions:
            raise ModelNotFound(name)
        return versions[-1]

    def _listing(self, name: str, now: float, *, fresh: bool) -> tuple[int, ...]:
        cached = self._latest.get(name)
        if not fresh and cached is not None and now - cached[1] < self.refresh_seconds:
            return cached[0]
        versions = tuple(list_versions(self.model_dir, name))
        with self._lock:
            if versions:
                self._latest[name] = (versions, now)
            else:  # only names that exist are remembered, so unknown names cannot grow the map
                self._latest.pop(name, None)
        return versions

    def _emit(self, event: str) -> None:
        if self._on_event is not None:
            self._on_event(event)


def _served(entry: _Entry) -> LoadedModel:
    if entry.model is None:
        raise ModelUnavailable(entry.failure)
    return entry.model


def _cost(entry: _Entry | None) -> int:
    return entry.model.size_bytes if entry is not None and entry.model is not None else 0


def _stamp(path: Path | None) -> FileStamp | None:
    if path is None:
        return None
    try:
        return FileStamp.of(path)
    except FileNotFoundError:
        return None


def _load(name: str, version: int, path: Path, stamp: FileStamp) -> LoadedModel:
    """Load and describe a model. The stamp was taken before loading: if the file changes meanwhile, the next
    check sees a different stamp and loads it again."""
    estimator = load_model(path)
    feature_count = check_estimator(estimator)
    if feature_count is None:
        metadata = read_metadata(path.parent) or {}
        declared = metadata.get("feature_count")
        if isinstance(declared, int) and not isinstance(declared, bool) and declared > 0:
            feature_count = declared
    classes = getattr(estimator, "classes_", None)
    labels = np.asarray(classes) if classes is not None else None
    single_output = labels is not None and labels.ndim == 1
    return LoadedModel(
        name=name,
        version=version,
        estimator=estimator,
        feature_count=feature_count,
        stamp=stamp,
        label_datatype=datatype_of(labels.dtype) if labels is not None and single_output else "FP64",
        class_count=len(labels) if labels is not None and single_output else None,
        has_proba=single_output and _has_method(estimator, "predict_proba"),
    )


def _has_method(estimator: Any, method: str) -> bool:
    try:
        return callable(getattr(estimator, method, None))
    except Exception:  # available_if raises when the method does not apply to this configuration
        return False
