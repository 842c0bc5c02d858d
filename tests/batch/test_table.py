"""A CSV chunk's columns: the fast reader (pandas' C parser for the columns a model takes as numbers) gives exactly
what the exact reader gives, and leaves to it every chunk it could read otherwise."""

from __future__ import annotations

import random
from typing import Any

import numpy as np
import pytest

from lambdas.batch.table import TableError, _csv_rows, read_rows
from lambdas.common import codecs
from lambdas.common.errors import BadRequest
from lambdas.common.payloads import ColumnsRequest
from lambdas.common.signature import COLUMNS, Column, Inputs

NAMES = ["id", "x", "y", "city"]
TYPES = {"id": None, "x": "FP64", "y": "FP64", "city": "BYTES"}
INPUTS = Inputs(
    kind=COLUMNS,
    columns=(Column("x", "FP64"), Column("y", "FP64"), Column("city", "BYTES")),
)


def cell(rng: random.Random) -> str:
    value = rng.choice([rng.gauss(0, 1) * 10.0 ** rng.randint(-20, 20), rng.randint(-9, 9), rng.random()])
    return rng.choice([repr(value), f"{value:.17g}", f"{value:.3f}", "", f" {value}", f"{value:e}"])


def decoded(lines: list[bytes], rows_reader) -> dict[str, list[Any]]:  # type: ignore[no-untyped-def]
    rows = rows_reader(lines)
    taken = {name: rows.columns[name] for name in INPUTS.names}
    batch = codecs.decode_columns(ColumnsRequest(taken, "csv", text=True), INPUTS)
    assert batch.columns is not None
    return {name: list(np.asarray(values).tolist()) for name, values in batch.columns.items()}


@pytest.mark.parametrize("seed", range(8))
def test_numbers_parsed_at_once_are_the_numbers_the_exact_reader_gives(seed: int) -> None:
    rng = random.Random(seed)
    lines = [f"{index},{cell(rng)},{cell(rng)},{rng.choice(['', 'Lyon', 'Oslo'])}".encode() for index in range(300)]
    fast = read_rows("csv", lines, NAMES, TYPES)
    assert isinstance(fast.columns["x"], np.ndarray)  # the fast reader took it
    exact = decoded(lines, lambda chunk: _csv_rows(chunk, NAMES))
    assert repr(decoded(lines, lambda chunk: fast)) == repr(exact)  # NaN where missing, on both sides


@pytest.mark.parametrize(
    "lines",
    [
        [b'1,"2.5",3,Lyon', b"2,1,2,Oslo"],  # a quoted field
        [b"1,2.5,3,Lyon", b"2,abc,2,Oslo"],  # a cell that is no number
    ],
)
def test_a_chunk_the_fast_reader_could_read_otherwise_is_left_to_the_exact_one(lines: list[bytes]) -> None:
    rows = read_rows("csv", lines, NAMES, TYPES)
    assert rows.columns["x"] == [line.split(b",")[1].strip(b'"').decode() for line in lines]


@pytest.mark.parametrize("lines", [[b"1,2.5,3,Lyon", b"2,1,2"], [b"1,2.5,3,Lyon", b"2,1,2,Oslo,extra"]])
def test_a_line_with_another_number_of_fields_than_the_header_is_refused(lines: list[bytes]) -> None:
    with pytest.raises(TableError, match="line 2 of the chunk has"):
        read_rows("csv", lines, NAMES, TYPES)


def test_a_cell_that_is_no_number_is_refused_with_the_reason_a_csv_request_gets() -> None:
    rows = read_rows("csv", [b"1,2.5,3,Lyon", b"2,abc,2,Oslo"], NAMES, TYPES)
    taken = {name: rows.columns[name] for name in INPUTS.names}
    with pytest.raises(BadRequest, match="column 'x' takes numbers"):
        codecs.decode_columns(ColumnsRequest(taken, "csv", text=True), INPUTS)
