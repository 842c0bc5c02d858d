"""A file of rows split by byte ranges, and the lines a range owns: every line whose first byte falls in it.

A planner splits the data (after a CSV's header) into ranges of about ``chunk_bytes``; a worker reads only its range
and, at most, the rest of its last line. A line is never split between two workers and never read twice, and no
worker reads the whole file. Rows must not hold a line break inside a quoted CSV field.
"""

from __future__ import annotations

import re
from collections.abc import Callable

# Read past a range's end in steps of this many bytes until its last line ends.
TAIL_STEP = 64 * 1024

ReadRange = Callable[[int, int], bytes]  # (first byte, last byte inclusive) -> the bytes, shorter at the end


def byte_ranges(size: int, data_start: int, chunk_bytes: int) -> list[tuple[int, int]]:
    """``[start, end)`` ranges covering ``data_start`` to ``size``, each about ``chunk_bytes`` long."""
    if chunk_bytes <= 0:
        raise ValueError("chunk_bytes must be positive")
    return [(start, min(start + chunk_bytes, size)) for start in range(data_start, size, chunk_bytes)]


def owned_lines(read: ReadRange, start: int, end: int, size: int, data_start: int) -> list[bytes]:
    """The lines (without their line ends, empty ones left out) that start in ``[start, end)``."""
    if start >= end:
        return []
    first = start if start == data_start else start - 1  # the byte before tells whether a line starts at ``start``
    data = read(first, min(end, size) - 1)
    if start != data_start:
        if data[:1] == b"\n":
            data = data[1:]
        else:
            cut = data.find(b"\n")
            data = b"" if cut < 0 else data[cut + 1 :]  # the line that began before ``start`` is another range's
            if cut < 0:
                return []
    position = min(end, size)
    if data and not data.endswith(b"\n") and position < size:  # finish the last line past the range's end
        tail = bytearray()
        while position < size:
            piece = read(position, min(position + TAIL_STEP, size) - 1)
            if not piece:
                break
            cut = piece.find(b"\n")
            if cut >= 0:
                tail += piece[: cut + 1]
                break
            tail += piece
            position += len(piece)
        data += bytes(tail)
    body = data[:-1] if data.endswith(b"\n") else data
    if _plain(body):  # the common case: no line to leave out, none ending in CR
        return body.split(b"\n")
    return [line.rstrip(b"\r") for line in data.split(b"\n") if line.strip()]


def _plain(body: bytes) -> bool:
    """Whether no line of ``body`` is blank (empty, or only whitespace) and none ends in CR."""
    if not body or b"\r" in body or b"\n\n" in body or body.startswith(b"\n") or body.endswith(b"\n"):
        return False
    first = body[: body.find(b"\n")] if b"\n" in body[:TAIL_STEP] else body[:TAIL_STEP]
    return bool(first.strip()) and _WHITESPACE_LINE.search(body) is None


_WHITESPACE_LINE = re.compile(rb"\n[ \t\f\v]+(?:\n|\Z)")
