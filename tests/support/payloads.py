"""A payload as an attacker would ship it in a .skops file: an object whose loading runs code (here, it leaves a
marker file). It loads only when its type is trusted, so a test proves no code ran by the marker's absence."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import skops.io

MARKER_TYPE = f"{__name__}.Payload"
# Types an upload might ask to trust so that its schema can call them.
DANGEROUS_TYPES = [MARKER_TYPE, "builtins.exec", "posix.system", "os.system"]


class Payload:
    def __init__(self, marker: Path) -> None:
        self.marker = str(marker)

    def __setstate__(self, state: dict[str, Any]) -> None:
        Path(state["marker"]).write_text("code ran while the file was loaded", encoding="utf-8")
        self.__dict__.update(state)

    def predict(self, rows: Any) -> Any:
        return [0] * len(rows)


def payload_skops(marker: Path) -> bytes:
    """A .skops file whose loading writes ``marker`` once its type is trusted."""
    return skops.io.dumps(Payload(marker))
