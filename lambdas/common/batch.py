"""The rows a model is asked about, as the codecs decode them and the runners take them: a record below both."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from lambdas.common.payloads import Array


@dataclass(slots=True)
class Batch:
    """A feature array (positional models) or one array per column (named), with the row count and whether some
    value is missing (NaN or None)."""

    rows: int
    features: Array | None = None
    columns: Mapping[str, Array] | None = None
    missing: bool = False
