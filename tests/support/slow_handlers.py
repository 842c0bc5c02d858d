"""Handlers that stay busy, for stopping a stack while its functions work: the inference function on any path with
``/slow`` in it, and the loader on every event. Each writes a marker file (under BUSY_MARKER_DIR) when it starts,
then sleeps far past any stop's grace. Every other request goes to the real inference handler."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from lambdas.inference import handler as inference_handler

BUSY_SECONDS = 300


def _busy(name: str) -> None:
    Path(os.environ["BUSY_MARKER_DIR"], f"{name}-{os.getpid()}").write_text("busy")
    time.sleep(BUSY_SECONDS)


def inference(event: dict[str, Any], context: Any) -> Any:
    if "/slow" in str(event.get("rawPath", "")):
        _busy("inference")
    return inference_handler.lambda_handler(event, context)


def loader(event: dict[str, Any], context: Any) -> Any:
    _busy("loader")
    return {"published": 0}
