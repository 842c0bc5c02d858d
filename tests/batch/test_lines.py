"""Byte ranges over a file of rows: every line is owned by exactly one range, whatever the range size."""

from __future__ import annotations

import random

import pytest

from lambdas.batch.lines import byte_ranges, owned_lines


def reader(data: bytes, calls: list[tuple[int, int]]):  # type: ignore[no-untyped-def]
    def read(first: int, last: int) -> bytes:
        calls.append((first, last))
        return data[first : last + 1]

    return read


@pytest.mark.parametrize("seed", range(12))
def test_every_line_is_owned_by_one_range(seed: int) -> None:
    rng = random.Random(seed)
    lines = [b"x" * rng.randint(1, 40) for _ in range(rng.randint(1, 200))]
    head = b"a,b,c\n" if seed % 2 else b""
    data = head + b"\n".join(lines) + (b"\n" if seed % 3 else b"")
    chunk = rng.randint(1, 120)
    calls: list[tuple[int, int]] = []
    read = reader(data, calls)

    owned = [
        line
        for start, end in byte_ranges(len(data), len(head), chunk)
        for line in owned_lines(read, start, end, len(data), len(head))
    ]

    assert owned == lines
    # Each range reads its own bytes and the rest of its last line, never the whole file (beyond tiny files).
    assert max(last - first + 1 for first, last in calls) <= chunk + 1 + 64 * 1024


def test_windows_line_ends_and_blank_lines_are_read_as_rows() -> None:
    data = b"1,2\r\n\r\n3,4\r\n"
    read = reader(data, [])
    assert owned_lines(read, 0, len(data), len(data), 0) == [b"1,2", b"3,4"]


@pytest.mark.parametrize("seed", range(6))
def test_blank_lines_and_carriage_returns_anywhere_are_left_out(seed: int) -> None:
    rng = random.Random(seed)
    pieces = [b"a,b", b"", b" ", b"\t", b"1,2\r", b" y ", b"3,4"]
    for _ in range(500):
        data = b"\n".join(rng.choice(pieces) for _ in range(rng.randint(1, 8))) + rng.choice([b"", b"\n"])
        expected = [line.rstrip(b"\r") for line in data.split(b"\n") if line.strip()]
        assert owned_lines(reader(data, []), 0, len(data), len(data), 0) == expected, data
