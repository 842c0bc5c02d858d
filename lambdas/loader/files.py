"""Durable file operations: temporary files beside their target, fsync, atomic replace."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

# Temporary files are hidden and carry this marker; the repository counts only exact model file names, so a
# temporary file is never served, and the next publish to the directory removes any left by a crashed run.
TEMP_MARKER = ".tmp-"


def temp_path(target: Path) -> Path:
    """A fresh temporary name beside ``target`` that keeps its suffix (model loaders choose the format by it)."""
    return target.with_name(f".{target.stem}{TEMP_MARKER}{secrets.token_hex(8)}{target.suffix}")


def is_temp_file(path: Path) -> bool:
    return path.name.startswith(".") and TEMP_MARKER in path.name


def remove_temp_files(directory: Path) -> list[str]:
    """Remove temporary files left in a directory; the caller holds the directory's lock, so none is in use."""
    removed: list[str] = []
    try:
        entries = list(directory.iterdir())
    except FileNotFoundError:
        return removed
    for entry in entries:
        if is_temp_file(entry) and entry.is_file():
            entry.unlink(missing_ok=True)
            removed.append(entry.name)
    return removed


def fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_all(fd: int, data: bytes | memoryview) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def write_atomically(target: Path, data: bytes) -> None:
    """Write a small file so that readers see the old content or the new, never a part."""
    temp = temp_path(target)
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o640)
    try:
        try:
            write_all(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)
        temp.replace(target)
    finally:
        temp.unlink(missing_ok=True)
    fsync_dir(target.parent)
