"""Loader bookkeeping under ``$MODEL_DIR/state``: the last applied S3 sequencer per key, and per-model locks.

Nothing here lives under ``models/``, so the inference function never sees it.

    state/keys/<sha256 of bucket and key>.json   {"bucket", "key", "sequencer", "deleted", "updated_at"}
    state/locks/<model name>.lock                 held while a record for that model is applied

A key whose last applied event was a delete keeps its record (a tombstone), so a late, older PUT for it is ignored.
"""

from __future__ import annotations

import errno
import fcntl
import hashlib
import json
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from lambdas.loader.files import write_atomically

STATE_SUBDIR = "state"
_LOCK_POLL_SECONDS = 0.05
# POSIX record locks belong to the process, so threads of one process also take an in-process lock first.
_thread_locks: dict[Path, threading.Lock] = {}
_thread_locks_guard = threading.Lock()


class LockTimeout(TimeoutError):
    """Another invocation kept a model locked for longer than this one may wait."""


@dataclass(frozen=True)
class KeyState:
    sequencer: str
    deleted: bool


def state_root(model_dir: Path) -> Path:
    return model_dir / STATE_SUBDIR


def _key_path(model_dir: Path, bucket: str, key: str) -> Path:
    digest = hashlib.sha256(f"{bucket}\x00{key}".encode()).hexdigest()
    return state_root(model_dir) / "keys" / f"{digest}.json"


def read_key_state(model_dir: Path, bucket: str, key: str) -> KeyState | None:
    """The last applied event for a key, or None when none was recorded (or the record is unreadable)."""
    try:
        data = json.loads(_key_path(model_dir, bucket, key).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except ValueError:
        return None
    sequencer = data.get("sequencer") if isinstance(data, dict) else None
    if not isinstance(sequencer, str):
        return None
    return KeyState(sequencer=sequencer, deleted=bool(data.get("deleted")))


def write_key_state(model_dir: Path, bucket: str, key: str, state: KeyState) -> None:
    path = _key_path(model_dir, bucket, key)
    path.parent.mkdir(parents=True, exist_ok=True)
    record = {
        "bucket": bucket,
        "key": key,
        "sequencer": state.sequencer,
        "deleted": state.deleted,
        "updated_at": datetime.now(UTC).isoformat(),
    }
    write_atomically(path, json.dumps(record, indent=2).encode())


@contextmanager
def model_lock(model_dir: Path, name: str, timeout: float) -> Iterator[None]:
    """Hold the lock of one model (all its versions) across processes sharing the file system, waiting at most
    ``timeout`` seconds. The operating system releases it when a holder dies."""
    path = state_root(model_dir) / "locks" / f"{name}.lock"
    path.parent.mkdir(parents=True, exist_ok=True)
    with _thread_locks_guard:
        thread_lock = _thread_locks.setdefault(path, threading.Lock())
    if not thread_lock.acquire(timeout=timeout):
        raise LockTimeout(f"model {name!r} stayed locked for {timeout:.0f} s")
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o640)
        try:
            _lock_file(fd, name, timeout)
            try:
                yield
            finally:
                fcntl.lockf(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)
    finally:
        thread_lock.release()


def _lock_file(fd: int, name: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except OSError as error:
            if error.errno not in (errno.EACCES, errno.EAGAIN):
                raise
        if time.monotonic() >= deadline:
            raise LockTimeout(f"model {name!r} stayed locked for {timeout:.0f} s")
        time.sleep(_LOCK_POLL_SECONDS)
