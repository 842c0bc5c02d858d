"""A batch worker whose process dies once in the middle of a batch of ranges: after scoring and writing the first
range's part, before it answers (the marker file named by DIE_ONCE_MARKER records that it has died)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from lambdas.batch import handler
from lambdas.batch.steps import Plan, score


def lambda_handler(event: dict[str, Any], context: Any) -> Any:
    marker = Path(os.environ["DIE_ONCE_MARKER"])
    items = event.get("Items") or []
    if "BatchInput" in event and len(items) > 1 and not marker.exists():
        job = Plan.from_json(event["BatchInput"]["plan"])
        score(handler.s3_client(), job, int(items[0]["index"]), handler.model)
        marker.write_text("died")
        os._exit(1)
    return handler.lambda_handler(event, context)
