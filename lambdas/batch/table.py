"""A chunk's lines as columns for the scorer, and its answers as lines of the input's own format.

CSV: the header names the columns; an empty field is a missing value, as in a CSV request; values stay strings for
the codecs to type by the model's signature. JSON lines: one object per line, values as JSON typed them.

Answers keep the input's row order, one line per input line: a row that failed its checks gets empty answer fields
(its reason is in the errors file). With ``join``, each answer line starts with the input's own fields.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from lambdas.batch.chunk import Scored


class TableError(ValueError):
    """Lines that cannot be read as the file's format; the message names the line."""


@dataclass(frozen=True)
class Rows:
    columns: dict[str, list[Any]]
    count: int
    text: bool  # values are a CSV file's strings
    records: list[dict[str, Any]] | None = None  # JSON lines' objects, kept for ``join``


def header(line: bytes) -> list[str]:
    """A CSV header's column names."""
    names = next(csv.reader([line.decode("utf-8-sig")]), [])
    if not names or any(not name for name in names) or len(set(names)) != len(names):
        raise TableError("the CSV header must name every column once")
    return names


def read_rows(fmt: str, lines: Sequence[bytes], names: Sequence[str] | None = None) -> Rows:
    if fmt == "csv":
        return _csv_rows(lines, names or [])
    return _json_rows(lines)


def _csv_rows(lines: Sequence[bytes], names: Sequence[str]) -> Rows:
    table = list(csv.reader(b"\n".join(lines).decode("utf-8").splitlines()))
    for number, row in enumerate(table, start=1):
        if len(row) != len(names):
            raise TableError(f"line {number} of the chunk has {len(row)} fields for {len(names)} columns")
    by_column = zip(*table, strict=True) if table else iter([()] * len(names))
    columns = {name: [value or None for value in cells] for name, cells in zip(names, by_column, strict=True)}
    return Rows(columns, len(lines), text=True)


def _json_rows(lines: Sequence[bytes]) -> Rows:
    records: list[dict[str, Any]] = []
    for number, line in enumerate(lines, start=1):
        try:
            record = orjson.loads(line)
        except orjson.JSONDecodeError as error:
            raise TableError(f"line {number} of the chunk is not JSON: {error}") from None
        if not isinstance(record, dict):
            raise TableError(f"line {number} of the chunk is not a JSON object")
        records.append(record)
    names = list(dict.fromkeys(name for record in records for name in record))
    columns = {name: [record.get(name) for record in records] for name in names}
    return Rows(columns, len(records), text=False, records=records)


def answer_lines(fmt: str, lines: Sequence[bytes], rows: Rows, scored: Scored, first_row: int, *, join: bool) -> bytes:
    """The chunk's answer lines, one per input line, in order."""
    names = list(scored.columns)
    table = _answer_table(rows.count, scored, first_row, names)
    if fmt == "csv":
        out = io.StringIO()
        csv.writer(out, lineterminator="\n").writerows(table)
        cells = out.getvalue().encode().split(b"\n")[: rows.count]
        if not join:
            return b"".join(line + b"\n" for line in cells)
        return b"".join(line + b"," + answer + b"\n" for line, answer in zip(lines, cells, strict=True))
    pieces: list[bytes] = []
    for index, values in enumerate(table):
        answer = dict(zip(names, [None if value == "" else value for value in values], strict=True))
        record = {**(rows.records or [{}] * rows.count)[index], **answer} if join else answer
        pieces.append(orjson.dumps(record, option=orjson.OPT_SERIALIZE_NUMPY) + b"\n")
    return b"".join(pieces)


def _answer_table(count: int, scored: Scored, first_row: int, names: list[str]) -> list[list[Any]]:
    """One row of answer values per input row, empty where the row was refused."""
    if len(scored.rows) == count:  # every row answered: the columns, turned into rows
        return [list(values) for values in zip(*(scored.columns[name] for name in names), strict=True)]
    by_row = dict(zip(scored.rows, range(len(scored.rows)), strict=True))
    table = []
    for index in range(count):
        answered = by_row.get(first_row + index)
        table.append([scored.columns[name][answered] for name in names] if answered is not None else [""] * len(names))
    return table


def answer_header(input_names: Sequence[str], output_names: Sequence[str], *, join: bool) -> bytes:
    """The CSV answer file's header: the input's columns first with ``join``, then the answer columns."""
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerow([*(input_names if join else ()), *output_names])
    return out.getvalue().encode()
