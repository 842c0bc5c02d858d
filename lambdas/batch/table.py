"""A chunk's lines as columns for the scorer, and its answers as lines of the input's own format.

CSV: the header names the columns; an empty field is a missing value, as in a CSV request; values stay strings for
the codecs to type by the model's signature. JSON lines: one object per line, values as JSON typed them.

Answers keep the input's row order, one line per input line: a row that failed its checks gets empty answer fields
(its reason is in the errors file). With ``join``, each answer line starts with the input's own fields.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import orjson

from lambdas.batch.chunk import Scored
from lambdas.common.payloads import Cells


class TableError(ValueError):
    """Lines that cannot be read as the file's format; the message names the line."""


@dataclass(frozen=True)
class Rows:
    columns: Mapping[str, Cells]
    count: int
    text: bool  # values are a CSV file's strings
    records: list[dict[str, Any]] | None = None  # JSON lines' objects, kept for ``join``


def header(line: bytes) -> list[str]:
    """A CSV header's column names."""
    names = next(csv.reader([line.decode("utf-8-sig")]), [])
    if not names or any(not name for name in names) or len(set(names)) != len(names):
        raise TableError("the CSV header must name every column once")
    return names


def read_rows(
    fmt: str, lines: Sequence[bytes], names: Sequence[str] | None = None, types: Mapping[str, str | None] | None = None
) -> Rows:
    """The chunk's columns; ``types``: the datatype the model takes in each CSV column, so that its FP64 columns
    can be parsed as numbers at once (``_numeric_csv``)."""
    if fmt == "csv":
        return _numeric_csv(lines, names or [], types or {}) or _csv_rows(lines, names or [])
    return _json_rows(lines)


def _numeric_csv(lines: Sequence[bytes], names: Sequence[str], types: Mapping[str, str | None]) -> Rows | None:
    """The chunk read by pandas' C parser, its FP64 columns as float64 arrays (missing: NaN), the others as the
    exact reader gives them; or None, leaving the chunk to the exact reader, when that could answer otherwise: a
    quoted field, a line with another number of fields than the header, or an FP64 cell that is no number.
    pandas 3 parses numbers to the nearest double, as Python and numpy do, so the answers do not change."""
    numeric = [name for name in names if types.get(name) == "FP64"]
    data = b"\n".join(lines)
    if not numeric or not lines or b'"' in data or not _fields_per_line(data, len(lines), len(names)):
        return None
    import pandas as pd  # the worker's own import; the inference function never reads a CSV file with it

    dtypes = {name: "float64" if name in numeric else object for name in names}
    try:
        frame = pd.read_csv(
            io.BytesIO(data),
            header=None,
            names=list(names),
            dtype=dtypes,
            keep_default_na=False,
            na_values=[""],
            index_col=False,
            engine="c",
        )
    except (ValueError, pd.errors.ParserError):
        return None
    if len(frame) != len(lines):
        return None
    columns: dict[str, Cells] = {}
    for name in names:
        values = frame[name]
        if name in numeric:
            columns[name] = values.to_numpy(np.float64)
        else:
            columns[name] = [value if isinstance(value, str) else None for value in values.tolist()]
    return Rows(columns, len(lines), text=True)


def _fields_per_line(data: bytes, lines: int, width: int) -> bool:
    """Whether each of ``lines`` lines of unquoted CSV ``data`` has ``width`` fields."""
    text = np.frombuffer(data, np.uint8)
    breaks = np.flatnonzero(text == ord("\n"))
    if len(breaks) != lines - 1:
        return False
    commas = np.flatnonzero(text == ord(","))
    bounds = np.concatenate(([0], breaks, [len(text)]))
    return bool((np.diff(np.searchsorted(commas, bounds)) == width - 1).all())


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
    if fmt == "csv":
        block = _number_block(rows.count, scored, names)
        if block is None:
            out = io.StringIO()
            csv.writer(out, lineterminator="\n").writerows(_answer_table(rows.count, scored, first_row, names))
            block = out.getvalue().encode()
        if not join:
            return block
        cells = block.split(b"\n")[: rows.count]
        return b"".join(line + b"," + answer + b"\n" for line, answer in zip(lines, cells, strict=True))
    pieces: list[bytes] = []
    for index, values in enumerate(_answer_table(rows.count, scored, first_row, names)):
        answer = dict(zip(names, [None if value == "" else value for value in values], strict=True))
        record = {**(rows.records or [{}] * rows.count)[index], **answer} if join else answer
        pieces.append(orjson.dumps(record, option=orjson.OPT_SERIALIZE_NUMPY) + b"\n")
    return b"".join(pieces)


def _number_block(count: int, scored: Scored, names: list[str]) -> bytes | None:
    """The answer lines as the CSV writer writes them, when every row was answered with numbers (no field then
    needs quoting); None otherwise."""
    if len(scored.rows) != count or not names or not count:
        return None
    columns = [scored.columns[name] for name in names]
    if not all(set(map(type, values)) <= _NUMBER_TYPES for values in columns):
        return None
    texts = [list(map(repr, values)) for values in columns]
    lines = texts[0] if len(texts) == 1 else list(map(",".join, zip(*texts, strict=True)))
    return ("\n".join(lines) + "\n").encode()


_NUMBER_TYPES = frozenset({int, float})


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
