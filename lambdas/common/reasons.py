"""Short, one-line reasons from exceptions, for verdicts, logs and 4xx answers: a model's or a library's message can
be long (it may quote the input), so callers get its start on one line."""

from __future__ import annotations

MAX_REASON_CHARS = 300


def reason(error: BaseException, *, with_type: bool = True) -> str:
    """The error on one line, ``Type: message`` unless ``with_type`` is false, cut to ``MAX_REASON_CHARS``."""
    text = f"{type(error).__name__}: {error}" if with_type else str(error)
    return " ".join(text.split())[:MAX_REASON_CHARS]
