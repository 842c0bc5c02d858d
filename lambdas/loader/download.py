"""Streaming an S3 object into a file: hashed as it is written, synced, its length checked against S3's."""

from __future__ import annotations

import hashlib
import os
import queue
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from botocore.exceptions import BotoCoreError

from lambdas.loader.errors import TransientFailure
from lambdas.loader.files import write_all

CHUNK_BYTES = 1 << 20
_CHUNKS_IN_FLIGHT = 4


def download(response: dict[str, Any], temp: Path) -> tuple[int, bytes]:
    """Copy the response body into ``temp``, fsync it; return its size and SHA-256.

    Receiving and hashing-plus-writing run in two threads joined by a short queue: each releases the GIL for its
    heavy part, so they overlap, and at most ``_CHUNKS_IN_FLIGHT`` chunks are held in memory at a time.
    """
    body = response["Body"]
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o640)
    writer = _ChunkWriter(fd)
    size = 0
    try:
        try:
            writer.start()
            for chunk in _chunks(body):
                writer.put(chunk)
                size += len(chunk)
        finally:
            writer.finish()
            os.close(fd)
    finally:
        body.close()
    expected = response.get("ContentLength")
    if isinstance(expected, int) and size != expected:
        raise TransientFailure(f"download ended after {size} of {expected} bytes")
    return size, writer.digest


class _ChunkWriter:
    """Hashes and writes chunks in a thread of its own, then fsyncs; its first error is raised to the caller."""

    def __init__(self, fd: int) -> None:
        self._fd = fd
        self._hasher = hashlib.sha256()
        self._queue: queue.Queue[bytes | None] = queue.Queue(maxsize=_CHUNKS_IN_FLIGHT)
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="model-writer", daemon=True)

    @property
    def digest(self) -> bytes:
        return self._hasher.digest()

    def start(self) -> None:
        self._thread.start()

    def put(self, chunk: bytes) -> None:
        self._raise_error()
        self._queue.put(chunk)

    def finish(self) -> None:
        """Wait until every chunk is written and synced; raise the writer's error, if any."""
        if self._thread.is_alive():
            self._queue.put(None)
            self._thread.join()
        self._raise_error()

    def _raise_error(self) -> None:
        if self._error is not None:
            raise self._error

    def _run(self) -> None:
        try:
            while (chunk := self._queue.get()) is not None:
                self._hasher.update(chunk)
                write_all(self._fd, chunk)
            os.fsync(self._fd)
        except BaseException as error:  # handed to the caller, which decides what it means
            self._error = error
            while self._queue.get() is not None:  # let the receiving side finish putting
                continue


def _chunks(body: Any) -> Iterator[bytes]:
    try:
        yield from body.iter_chunks(CHUNK_BYTES)
    except BotoCoreError as error:
        raise TransientFailure(f"reading the object failed: {type(error).__name__}: {error}") from error
