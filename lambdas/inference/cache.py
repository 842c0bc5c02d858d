"""A process-wide LRU of loaded models, bounded by bytes and kept in step with the files in the repository.

A cached model is trusted for ``refresh_seconds``; after that one ``stat`` tells whether its file changed (inode,
size, mtime). A changed file is loaded before the old model is dropped, so a corrupt or half-written file never
evicts a good model. ``latest`` is the highest published version, re-listed on the same window.

With the ONNX fast path on, a version's ``model.onnx`` is the file served when it sits beside the model file; one
that does not open is logged and the model file serves instead, until the conversion changes.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

from lambdas.common.errors import ModelNotFound, ModelUnavailable
from lambdas.common.metadata import MetadataError, VersionMetadata, read_metadata
from lambdas.common.models import ModelLoadError
from lambdas.common.repository import find_model_files, is_valid_name, list_refused, list_versions, version_dir
from lambdas.common.runtimes import OnnxRunner, Runner, SklearnRunner, import_runtime
from lambdas.common.settings import Settings
from lambdas.common.signature import Signature
from lambdas.common.verdicts import Verdict, read_verdict
from lambdas.inference.memory import LoadGrowth, object_bytes
from lambdas.inference.observability import logger

# Loads of different models may run in parallel; loads of one model are serialised by one of these locks.
_LOAD_LOCK_STRIPES = 32
# How often a version's file is looked up again when the loader deleted or replaced it while it was being read.
_LOAD_ATTEMPTS = 3


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
    runner: Runner
    stamp: FileStamp  # of the file chosen to serve: model.onnx when the fast path serves, else the model file
    signature: Signature
    memory_bytes: int = 0  # what loading it took (see lambdas.inference.memory)
    sha256: str | None = None  # of the model file, as the loader recorded it

    @property
    def size_bytes(self) -> int:
        """What the model costs in the cache: what loading it took, never less than its file, at least one byte;
        with the scikit-learn model behind a conversion once that is loaded for rows with missing values."""
        fallback = self.runner.fallback_bytes if isinstance(self.runner, OnnxRunner) else 0
        return max(self.memory_bytes, self.stamp.size, 1) + fallback

    @property
    def feature_count(self) -> int | None:
        return self.runner.feature_count

    @property
    def has_proba(self) -> bool:
        return self.runner.has_proba


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
        serve_onnx: bool = False,
        on_event: Callable[[str], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
        measure_resident: bool = True,
        trusted_types: tuple[str, ...] = (),
    ) -> None:
        self.model_dir = model_dir
        self.max_bytes = max_bytes
        self.refresh_seconds = refresh_seconds
        self._allowed = allowed_suffixes
        self._serve_onnx = serve_onnx
        self._on_event = on_event
        self._clock = clock
        self._trusted = trusted_types  # the operator's SKOPS_TRUSTED_TYPES, from the environment, never from EFS
        self._measure_resident = measure_resident  # off: only what a model holds, the same figure on every load
        self._lock = threading.Lock()
        self._load_locks = [threading.Lock() for _ in range(_LOAD_LOCK_STRIPES)]
        self._entries: OrderedDict[tuple[str, int], _Entry] = OrderedDict()
        self._costs: dict[tuple[str, int], int] = {}  # what each entry was charged, so a later charge adds the change
        self._bytes = 0
        self._latest: dict[str, tuple[tuple[int, ...], float]] = {}

    @classmethod
    def from_settings(cls, settings: Settings, on_event: Callable[[str], None] | None = None) -> ModelCache:
        """The cache the functions' settings describe: the inference function's, and the batch worker's alike."""
        return cls(
            settings.model_dir,
            max_bytes=settings.cache_max_bytes,
            refresh_seconds=settings.refresh_seconds,
            allowed_suffixes=settings.allowed_suffixes,
            serve_onnx=settings.onnx_fast_path,
            trusted_types=settings.skops_trusted_types,
            on_event=on_event,
        )

    def get(self, name: str, version: int | None = None) -> LoadedModel:
        """The model to serve, loading or re-validating it when needed; ``None`` means the latest version."""
        if version is not None:
            return self._get(name, version, self._clock())
        now = self._clock()
        latest = self._latest_version(name, now, fresh=False)
        try:
            return self._get(name, latest, now)
        except ModelNotFound:
            pass
        # The listing named a version that has since been deleted. List again and serve the highest version still
        # there: the loader may delete several versions, one after another, while this request runs.
        for candidate in reversed(self._listing(name, now, fresh=True)):
            try:
                return self._get(name, candidate, now)
            except ModelNotFound:
                continue
        raise self._not_served(name)

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

    def loaded(self, name: str, version: int) -> LoadedModel | None:
        """The model this process serves for that version, without loading or re-validating it."""
        entry = self._entries.get((name, version))
        return entry.model if entry is not None else None

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

    def _revalidate(self, key: tuple[str, int], attempt: int = 1) -> LoadedModel:
        now = self._clock()
        entry = self._entries.get(key)
        if entry is not None and now - entry.checked_at < self.refresh_seconds:
            return _served(entry)  # another thread checked it while this one waited
        name, version = key
        model_file, onnx_file = find_model_files(version_dir(self.model_dir, name, version), self._allowed)
        path = onnx_file if self._serve_onnx and onnx_file is not None else model_file
        stamp = _stamp(path)
        if path is None or stamp is None:
            if path is not None and attempt < _LOAD_ATTEMPTS:
                # Found, then gone: the version may have been republished in another format, which removes this file.
                return self._revalidate(key, attempt + 1)
            self._forget(key)
            verdict = read_verdict(version_dir(self.model_dir, name, version))
            if verdict is not None:
                raise ModelUnavailable(_refused(name, version, verdict))
            raise ModelNotFound(name, version)
        if entry is not None and (stamp == entry.failed_stamp or (entry.model and entry.model.stamp == stamp)):
            self._store(key, _Entry(entry.model, now, entry.failed_stamp, entry.failure))
            return _served(entry)
        if stamp.size > self.max_bytes:  # a model takes at least its file in memory: not loaded at all
            return self._too_large(key, entry, now, stamp, stamp.size, "at least")
        try:
            model = self._load(name, version, path, stamp, model_file)
        except ModelLoadError as error:
            if attempt < _LOAD_ATTEMPTS and _stamp(path) != stamp:
                # The loader deleted or replaced the file while it was read: the error is about a file that is no
                # longer there, so look again (a deleted version is then a 404, not a model that cannot load).
                return self._revalidate(key, attempt + 1)
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
        if model.size_bytes > self.max_bytes:
            needed = model.size_bytes
            del model  # dropped before the refusal, so the memory it took goes back
            return self._too_large(key, entry, now, stamp, needed, "")
        self._emit("ModelLoaded")
        logger.info(
            "model loaded",
            extra={
                "model": name,
                "version": version,
                "bytes": model.size_bytes,
                "file_bytes": stamp.size,
                "runtime": model.runner.runtime,
            },
        )
        self._store(key, _Entry(model, now))
        return model

    def _too_large(
        self, key: tuple[str, int], entry: _Entry | None, now: float, stamp: FileStamp, needed: int, bound: str
    ) -> LoadedModel:
        """A 503 for a model the cache cannot hold, remembered for this file; an older version keeps serving."""
        name, version = key
        self._emit("ModelTooLarge")
        failure = (
            f"model {name!r} version {version} needs {bound + ' ' if bound else ''}{_megabytes(needed)} of memory, "
            f"more than the model cache's {_megabytes(self.max_bytes)} (MODEL_CACHE_MAX_BYTES; by default half the "
            "function's memory)"
        )
        logger.warning("model too large for the cache", extra={"model": name, "version": version, "bytes": needed})
        failed = _Entry(entry.model if entry is not None else None, now, stamp, failure)
        self._store(key, failed)
        return _served(failed)

    def _load(self, name: str, version: int, path: Path, stamp: FileStamp, model_file: Path | None) -> LoadedModel:
        """Load and describe a model. The stamp was taken before loading: if the file changes meanwhile, the next
        check sees a different stamp and loads it again."""
        try:
            metadata = read_metadata(path.parent)
        except MetadataError as error:  # e.g. written by a newer loader: not guessed at
            raise ModelLoadError(str(error)) from None
        import_runtime(path)  # a cold process imports its runtime here, outside what the model is charged
        before = LoadGrowth() if self._measure_resident else None
        runner: Runner
        if path.name.endswith(".onnx"):
            try:
                onnx = OnnxRunner.load(path, model_file, self._trusted)
                onnx.on_fallback = lambda fallback: self._charge_fallback((name, version), onnx, fallback)
                return self._loaded(name, version, onnx, stamp, metadata, before)
            except ModelLoadError as error:
                if model_file is None:
                    raise
                # Served by scikit-learn under the conversion's stamp: tried again only once the conversion changes.
                self._emit("FastPathLoadFailed")
                logger.warning(
                    "ONNX conversion does not load; serving the model file",
                    extra={"model": name, "version": version, "reason": str(error)},
                )
                path = model_file
        declared = metadata.feature_count if metadata is not None else None
        runner = SklearnRunner.load(path, declared, self._trusted)
        return self._loaded(name, version, runner, stamp, metadata, before)

    def _loaded(
        self,
        name: str,
        version: int,
        runner: Runner,
        stamp: FileStamp,
        metadata: VersionMetadata | None,
        before: LoadGrowth | None,
    ) -> LoadedModel:
        """The loaded model with what it costs: the larger of the memory the load grew and what the model holds.
        Its signature is the loader's, or the runner's own for a version published without a record."""
        grown = before.bytes() if before is not None else 0
        held = object_bytes(runner.estimator) if isinstance(runner, SklearnRunner) else 0
        if metadata is None:
            return LoadedModel(name, version, runner, stamp, runner.fallback_signature(), max(grown, held))
        return LoadedModel(name, version, runner, stamp, metadata.signature, max(grown, held), metadata.sha256)

    def _store(self, key: tuple[str, int], entry: _Entry) -> None:
        with self._lock:
            self._entries.pop(key, None)
            self._bytes -= self._costs.pop(key, 0)
            self._entries[key] = entry
            self._costs[key] = _cost(entry)
            self._bytes += self._costs[key]
            evicted = self._evict_beyond_budget(key)
        self._evicted(evicted)

    def _charge_fallback(self, key: tuple[str, int], runner: OnnxRunner, fallback: SklearnRunner) -> None:
        """The scikit-learn model behind a conversion was loaded: charge what it holds (never less than its file)
        to the version's entry, and make room for it as for any load."""
        model_file = runner.model_file
        file_size = model_file.stat().st_size if model_file is not None and model_file.exists() else 0
        runner.fallback_bytes = max(object_bytes(fallback.estimator), file_size, 1)
        with self._lock:
            entry = self._entries.get(key)
            if entry is None or entry.model is None or entry.model.runner is not runner:
                return  # replaced or dropped meanwhile: nothing of it is charged any more
            charged = _cost(entry)
            self._bytes += charged - self._costs.get(key, 0)
            self._costs[key] = charged
            evicted = self._evict_beyond_budget(key)
        self._emit("FallbackLoaded")
        logger.info(
            "scikit-learn model loaded for rows with missing values",
            extra={"model": key[0], "version": key[1], "bytes": runner.fallback_bytes},
        )
        self._evicted(evicted)

    def _evict_beyond_budget(self, keep: tuple[str, int]) -> list[tuple[str, int]]:
        """Drop least recently used entries, never ``keep``, until the cache is within its bound (lock held)."""
        evicted = []
        while self._bytes > self.max_bytes and len(self._entries) > 1:
            oldest = next(iter(self._entries))
            if oldest == keep:
                break
            del self._entries[oldest]
            self._bytes -= self._costs.pop(oldest, 0)
            evicted.append(oldest)
        return evicted

    def _evicted(self, evicted: list[tuple[str, int]]) -> None:
        for name, version in evicted:
            self._emit("ModelEvicted")
            logger.info("model evicted from the cache", extra={"model": name, "version": version})

    def _forget(self, key: tuple[str, int]) -> None:
        with self._lock:
            self._entries.pop(key, None)
            self._bytes -= self._costs.pop(key, 0)

    def _latest_version(self, name: str, now: float, *, fresh: bool) -> int:
        versions = self._listing(name, now, fresh=fresh)
        if not versions:
            raise self._not_served(name)
        return versions[-1]

    def _not_served(self, name: str) -> ModelNotFound | ModelUnavailable:
        """No version of ``name`` is served: unavailable when the loader refused one (the latest refusal says
        why), else not found."""
        refused = list_refused(self.model_dir, name)
        if refused:
            version, verdict = max(refused.items())
            return ModelUnavailable(_refused(name, version, verdict))
        return ModelNotFound(name)

    def _listing(self, name: str, now: float, *, fresh: bool) -> tuple[int, ...]:
        cached = self._latest.get(name)  # only valid names are ever stored
        if not fresh and cached is not None and now - cached[1] < self.refresh_seconds:
            return cached[0]
        if not is_valid_name(name):
            return ()
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


def _refused(name: str, version: int, verdict: Verdict) -> str:
    return f"model {name!r} version {version} was refused by the loader: {verdict.reason}"


def _served(entry: _Entry) -> LoadedModel:
    if entry.model is None:
        raise ModelUnavailable(entry.failure)
    return entry.model


def _megabytes(size: int) -> str:
    return f"{size / 1e6:,.1f} MB"


def _cost(entry: _Entry | None) -> int:
    return entry.model.size_bytes if entry is not None and entry.model is not None else 0


def _stamp(path: Path | None) -> FileStamp | None:
    if path is None:
        return None
    try:
        return FileStamp.of(path)
    except FileNotFoundError:
        return None
