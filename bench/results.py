"""One benchmark figure: ours against a baseline measured in the same run, its target, and how it is written out."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

Better = Literal["lower", "higher"]
# A target bounds the ratio (ours / baseline) unless it bounds ours itself, e.g. a peak memory in MB.
TargetOf = Literal["ratio", "ours"]


@dataclass(frozen=True)
class Figure:
    name: str
    ours: float | None
    baseline: float | None
    unit: str
    better: Better = "lower"
    target: float | None = None
    target_of: TargetOf = "ratio"
    context: dict[str, Any] = field(default_factory=dict)

    @property
    def ratio(self) -> float | None:
        if self.ours is None or self.baseline is None or self.baseline <= 0:
            return None
        return self.ours / self.baseline

    @property
    def passed(self) -> bool | None:
        """Whether the figure meets its target; None when it has no target or nothing was measured."""
        measured = self.ratio if self.target_of == "ratio" else self.ours
        if self.target is None or measured is None:
            return None
        return measured <= self.target if self.better == "lower" else measured >= self.target

    def record(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "ratio": _rounded(self.ratio),
            "ours": _rounded(self.ours),
            "baseline": _rounded(self.baseline),
            "unit": self.unit,
            "target": self.target,
            "target_of": self.target_of,
            "better": self.better,
            "passed": self.passed,
            **self.context,
        }


def write_results(figures: Iterable[Figure], path: Path) -> None:
    records = [figure.record() for figure in figures]
    path.write_text(json.dumps(records, indent=2) + "\n", encoding="utf-8")


def table(figures: Sequence[Figure]) -> str:
    """A plain-text table: one line per figure with ours, baseline, ratio, the target and a pass/FAIL marker."""
    header = ("figure", "ours", "baseline", "unit", "ratio", "target", "")
    rows = [header] + [_row(figure) for figure in figures]
    widths = [max(len(row[column]) for row in rows) for column in range(len(header))]
    numeric = {1, 2, 4}
    lines = []
    for index, row in enumerate(rows):
        cells = [
            cell.rjust(width) if column in numeric else cell.ljust(width)
            for column, (cell, width) in enumerate(zip(row, widths, strict=True))
        ]
        lines.append("  ".join(cells).rstrip())
        if index == 0:
            lines.append("  ".join("-" * width for width in widths))
    return "\n".join(lines)


def _row(figure: Figure) -> tuple[str, str, str, str, str, str, str]:
    sign = "<=" if figure.better == "lower" else ">="
    if figure.target is None:
        target = "-"
    elif figure.target_of == "ratio":
        target = f"ratio {sign} {figure.target:g}"
    else:
        target = f"ours {sign} {figure.target:g} {figure.unit}"
    marker = {True: "pass", False: "FAIL", None: ""}[figure.passed]
    return (
        figure.name,
        _number(figure.ours),
        _number(figure.baseline),
        figure.unit,
        _number(figure.ratio, ratio=True),
        target,
        marker,
    )


def _number(value: float | None, *, ratio: bool = False) -> str:
    if value is None:
        return "-"
    if ratio:
        return f"{value:.3f}"
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:.3g}"


def _rounded(value: float | None) -> float | None:
    return None if value is None else float(f"{value:.6g}")
