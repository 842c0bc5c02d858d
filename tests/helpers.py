"""Shared test helpers."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

EVENTS_DIR = Path(__file__).parent / "events"


def load_event(name: str) -> dict[str, Any]:
    """A recorded event from tests/events, by file name with or without ``.json``; a fresh copy every call."""
    filename = name if name.endswith(".json") else f"{name}.json"
    event: dict[str, Any] = json.loads((EVENTS_DIR / filename).read_text(encoding="utf-8"))
    return event
