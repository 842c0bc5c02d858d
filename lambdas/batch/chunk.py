"""Scoring one chunk of a batch job: rows by column in, one answer row per input row out, and the rows that fail
their checks set apart with the reason a V2 request would get.

A chunk takes the way a request takes: its columns become the same typed ``ColumnsRequest`` a CSV body or an MLflow
``dataframe_split`` does (strings when they came from a CSV file, typed values from JSON lines or Parquet), the
codecs decode it by the model's signature, the runner answers, and the answers are encoded by the same codecs. So a
batch answer is the online answer. Columns a named model does not take (an id, a timestamp) play no part.

A chunk whose rows all pass is decoded and answered once. When the chunk is refused, it is split in halves until the
refused rows stand alone (a few bad rows cost a few answers each, not one per row), so that only the rows that fail
their checks are set apart; a column the model needs that the file lacks fails the job instead (``ChunkRefused``),
as it would fail every row.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from lambdas.common import codecs
from lambdas.common.errors import BadRequest
from lambdas.common.payloads import Array, Cells, ColumnsRequest
from lambdas.common.runtimes import Runner, answer
from lambdas.common.signature import PREDICT, PREDICT_PROBA, Signature

OUTPUTS = (PREDICT, PREDICT_PROBA)


class ChunkRefused(ValueError):
    """A chunk no row of which can be scored (a column the model needs is not in the file): the job fails."""


@dataclass
class Scored:
    """The answers of a chunk: for each answered row, its number and its values by output column."""

    rows: list[int] = field(default_factory=list)  # input row numbers answered, ascending
    columns: dict[str, list[Any]] = field(default_factory=dict)  # output column -> one value per answered row
    errors: list[tuple[int, str]] = field(default_factory=list)  # (input row number, reason), ascending


def output_columns(signature: Signature, output: str) -> tuple[str, ...]:
    """The answer's column names, as the V2 outputs are named: ``predict``, or ``predict_proba_<class>`` per class
    (``predict_<i>`` for each target of a multi-output model)."""
    spec = signature.output(output)
    if spec is None:
        raise ChunkRefused(f"the model does not provide {output}")
    width = spec.shape[1] if len(spec.shape) == 2 else None
    if width is None:
        return (output,)
    if output == PREDICT_PROBA and signature.classes is not None and len(signature.classes) == width:
        return tuple(f"{output}_{label}" for label in signature.classes)
    return tuple(f"{output}_{index}" for index in range(width))


def score_chunk(
    runner: Runner,
    signature: Signature,
    columns: Mapping[str, Cells],
    *,
    first_row: int,
    output: str = PREDICT,
    text: bool = False,
    what: str = "the model",
) -> Scored:
    """Answer ``output`` for every row of ``columns`` (numbered from ``first_row``); ``text``: the values are a CSV
    file's strings, typed by the signature as a CSV request's are."""
    if output not in OUTPUTS:
        raise ChunkRefused(f"outputs must be one of {', '.join(OUTPUTS)}, got {output!r}")
    names = output_columns(signature, output)
    taken = _taken(signature, columns)
    rows = len(next(iter(taken.values()))) if taken else 0
    chunk = _Chunk(runner, signature, taken, first_row, output, names, text, what)
    chunk.score(range(rows))
    return chunk.scored


@dataclass
class _Chunk:
    runner: Runner
    signature: Signature
    taken: dict[str, Cells]
    first_row: int
    output: str
    names: tuple[str, ...]
    text: bool
    what: str
    scored: Scored = field(default_factory=Scored)

    def score(self, rows: range) -> None:
        """Answer ``rows`` at once, or, when they are refused, each half on its own, left before right."""
        if not rows:
            return
        part = {name: cells[rows.start : rows.stop] for name, cells in self.taken.items()}
        try:
            batch = codecs.decode_columns(ColumnsRequest(part, "rows", text=self.text), self.signature.inputs)
            values = codecs.encode_output(self.output, answer(self.runner, batch, self.output, self.what)).data
        except BadRequest as error:
            if len(rows) == 1:
                self.scored.errors.append((self.first_row + rows.start, error.message))
                return
            middle = rows.start + len(rows) // 2
            self.score(range(rows.start, middle))
            self.score(range(middle, rows.stop))
            return
        self.scored.rows.extend(range(self.first_row + rows.start, self.first_row + rows.stop))
        _add(self.scored, self.names, values)


def _taken(signature: Signature, columns: Mapping[str, Cells]) -> dict[str, Cells]:
    """The columns the model takes, in the file's order: a named model's own (the others are left out), or every
    column as a positional model's features."""
    inputs = signature.inputs
    if not inputs.named:
        if inputs.features is not None and len(columns) != inputs.features:
            raise ChunkRefused(f"the model takes {inputs.features} features; the file has {len(columns)} columns")
        return dict(columns)
    missing = [name for name in inputs.names if name not in columns and name not in inputs.optional]
    if missing:
        raise ChunkRefused(f"the file has no column {', '.join(repr(name) for name in missing)}, which the model takes")
    return {name: columns[name] for name in inputs.names if name in columns}


def column_types(signature: Signature, names: Sequence[str]) -> dict[str, str | None]:
    """The datatype the model takes in each of a file's columns (None: any scalar, or a column it does not take);
    a positional model takes numbers in every one."""
    inputs = signature.inputs
    if not inputs.named:
        return dict.fromkeys(names, "FP64")
    return {name: inputs.datatypes.get(name) for name in names}


def _add(scored: Scored, names: tuple[str, ...], values: Array) -> None:
    table = np.asarray(values)
    table = table.reshape(len(table), -1) if table.ndim != 1 else table.reshape(-1, 1)
    for index, name in enumerate(names):
        scored.columns.setdefault(name, []).extend(table[:, index].tolist())
