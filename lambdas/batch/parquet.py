"""Parquet files in a batch job: read through ranged reads, never whole, and answered in Parquet.

The planner reads only the footer. A chunk is a run of whole row groups of about ``chunk_bytes`` decoded (one row
group at least, however large it is). A worker reads only its row groups' column chunks, and only the columns the
model takes unless ``join`` asks for all of them.

Columns keep the types Parquet gives them. Numbers and booleans reach the codecs as arrays, and a null is a missing
value. So a batch answer is the answer the same values would get as JSON. Each part is a Parquet file of the answer
columns (after the input's own with ``join``), typed by the model's signature so that every part has one schema.
The parts are written into one file, row group after row group, streamed to a multipart upload.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from lambdas.batch.chunk import Scored
from lambdas.batch.lines import ReadRange
from lambdas.common.payloads import Cells

BATCH_ROWS = 16_384  # rows a worker decodes and answers at once


class RangeFile(io.RawIOBase):
    """A read-only file over an object, each read one ranged GET (``read(first, last)``)."""

    def __init__(self, read: ReadRange, size: int) -> None:
        super().__init__()
        self._read, self._size, self._position = read, size, 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._position

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._position, io.SEEK_END: self._size}[whence]
        self._position = max(0, base + offset)
        return self._position

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        last = min(self._position + len(view), self._size) - 1
        data = self._read(self._position, last) if last >= self._position else b""
        view[: len(data)] = data
        self._position += len(data)
        return len(data)


def open_file(read: ReadRange, size: int) -> pq.ParquetFile:
    """The file, its footer read; ValueError when it is not Parquet."""
    try:
        return pq.ParquetFile(RangeFile(read, size), pre_buffer=True)
    except (pa.ArrowException, OSError) as error:
        raise ValueError(f"the file is not Parquet: {error}") from None


def column_names(parquet: pq.ParquetFile) -> list[str]:
    return list(parquet.schema_arrow.names)


def group_ranges(parquet: pq.ParquetFile, chunk_bytes: int) -> list[tuple[int, int]]:
    """``[first, stop)`` runs of row groups, each about ``chunk_bytes`` decoded, in the file's order."""
    metadata = parquet.metadata
    ranges: list[tuple[int, int]] = []
    first, size = 0, 0
    for index in range(metadata.num_row_groups):
        group_bytes = metadata.row_group(index).total_byte_size
        if index > first and size + group_bytes > chunk_bytes:
            ranges.append((first, index))
            first, size = index, 0
        size += group_bytes
    if metadata.num_row_groups > first:
        ranges.append((first, metadata.num_row_groups))
    return ranges


def read_groups(parquet: pq.ParquetFile, first: int, stop: int, names: Sequence[str] | None) -> pa.Table:
    """Row groups ``[first, stop)``: every column, or the ``names`` given (those the file has)."""
    return parquet.read_row_groups(range(first, stop), columns=_columns(parquet, names), use_threads=False)


def read_batches(parquet: pq.ParquetFile, first: int, stop: int, names: Sequence[str] | None) -> Iterator[pa.Table]:
    """Row groups ``[first, stop)`` as tables of at most ``BATCH_ROWS`` rows, in order, each decoded as it is
    reached, so that a large row group is never decoded whole."""
    batches = parquet.iter_batches(
        batch_size=BATCH_ROWS, row_groups=range(first, stop), columns=_columns(parquet, names), use_threads=False
    )
    for batch in batches:
        yield pa.Table.from_batches([batch])


def _columns(parquet: pq.ParquetFile, names: Sequence[str] | None) -> list[str] | None:
    return None if names is None else [name for name in names if name in parquet.schema_arrow.names]


def table_columns(table: pa.Table) -> dict[str, Cells]:
    """Each column as the codecs take it: numbers as arrays (float64 with NaN where a value is null), booleans as
    an array when none is null; anything else as Python values, None for null."""
    columns: dict[str, Cells] = {}
    for name, column in zip(table.column_names, table.columns, strict=True):
        kind = column.type
        if pa.types.is_floating(kind) or pa.types.is_integer(kind):
            columns[name] = column.to_numpy() if column.null_count == 0 else _with_nan(column)
        elif pa.types.is_boolean(kind) and column.null_count == 0:
            columns[name] = column.to_numpy()
        else:
            columns[name] = column.to_pylist()
    return columns


def _with_nan(column: pa.ChunkedArray) -> np.ndarray:
    return np.asarray(column.cast(pa.float64()).to_numpy(zero_copy_only=False), dtype=np.float64)


def arrow_type(datatype: str) -> pa.DataType:
    """The Parquet type of an answer column of this V2 datatype."""
    if datatype == "BOOL":
        return pa.bool_()
    if datatype.startswith(("INT", "UINT")):
        return pa.int64()
    if datatype.startswith("FP"):
        return pa.float64()
    return pa.string()


def answer_table(
    count: int,
    scored: Scored,
    names: Sequence[str],
    datatype: str,
    table: pa.Table | None = None,
    first_row: int = 0,
) -> pa.Table:
    """The answers of ``count`` rows numbered from ``first_row``, one row per input row in order, null where the
    row was refused; after the input's columns when ``table`` (those input rows) is given."""
    kind = arrow_type(datatype)
    if len(scored.rows) == count:
        values = [scored.columns.get(name, []) for name in names]
    else:
        where = dict(zip(scored.rows, range(len(scored.rows)), strict=True))
        rows = range(first_row, first_row + count)
        values = [[scored.columns[name][where[row]] if row in where else None for row in rows] for name in names]
    arrays = [pa.array(cells, type=kind) for cells in values]
    if table is None:
        return pa.Table.from_arrays(arrays, names=list(names))
    for name, array in zip(names, arrays, strict=True):
        table = table.append_column(name, array)
    return table


def empty_answers(names: Sequence[str], datatype: str, input_schema: pa.Schema | None) -> pa.Table:
    """A file with no rows: the answer columns (after the input's with ``join``), typed as they would be."""
    fields = list(input_schema) if input_schema is not None else []
    fields += [pa.field(name, arrow_type(datatype)) for name in names]
    return pa.schema(fields).empty_table()


def table_bytes(table: pa.Table) -> bytes:
    out = io.BytesIO()
    pq.write_table(table, out)
    return out.getvalue()


def tables_bytes(tables: Sequence[pa.Table]) -> bytes:
    """One Parquet file of the tables (one at least, all of one schema) in order."""
    return table_bytes(pa.concat_tables(tables) if len(tables) != 1 else tables[0])


def read_table(data: bytes) -> pa.Table:
    return pq.read_table(io.BytesIO(data))


class Sink(io.RawIOBase):
    """A writable file handing what is written to ``write`` (a multipart upload's buffer)."""

    def __init__(self, write: Callable[[bytes], None]) -> None:
        super().__init__()
        self._write, self._position = write, 0

    def writable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._position

    def write(self, data: Any) -> int:
        piece = bytes(data)
        self._write(piece)
        self._position += len(piece)
        return len(piece)


def write_parts(
    parts: Sequence[Callable[[], pa.Table]], empty: pa.Table | None, write: Callable[[bytes], None]
) -> None:
    """One Parquet file of the parts' tables, in order, each written as it is read (the file is never whole in
    memory); ``empty`` when there are no parts."""
    writer: pq.ParquetWriter | None = None
    for part in parts:
        table = part()
        if writer is None:
            writer = pq.ParquetWriter(Sink(write), table.schema)
        writer.write_table(table)
    if writer is None:
        if empty is None:
            raise ValueError("a file of no parts needs its empty table")
        writer = pq.ParquetWriter(Sink(write), empty.schema)
        writer.write_table(empty)
    writer.close()
