"""The model bucket's notifications, filtered as the compute module filters them on AWS: both read
``modules/compute/notifications.json``, and the allowed formats and model prefix come from the same settings the
functions read. S3 matches one suffix per configuration, so there is one configuration per suffix."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from lambdas.common.settings import Settings

FILTERS_FILE = Path(__file__).resolve().parents[1] / "modules" / "compute" / "notifications.json"
CREATED_AND_REMOVED = ["s3:ObjectCreated:*", "s3:ObjectRemoved:*"]
CREATED = ["s3:ObjectCreated:*"]


def notified_suffixes(settings: Settings) -> dict[str, list[str]]:
    """Each suffix that notifies the loader, with the events it notifies on."""
    filters = json.loads(FILTERS_FILE.read_text(encoding="utf-8"))
    created_and_removed = [*sorted(settings.allowed_suffixes), *filters["created_and_removed"]]
    return {
        **dict.fromkeys(created_and_removed, CREATED_AND_REMOVED),
        **dict.fromkeys(filters["created_only"], CREATED),
    }


def queue_configurations(queue_arn: str, settings: Settings) -> list[dict[str, Any]]:
    """S3 QueueConfigurations sending the loader's events, and no others, to ``queue_arn``."""
    configurations = []
    for suffix, events in notified_suffixes(settings).items():
        rules = [{"Name": "suffix", "Value": suffix}]
        if settings.model_prefix:
            rules.insert(0, {"Name": "prefix", "Value": settings.model_prefix})
        configurations.append({"QueueArn": queue_arn, "Events": events, "Filter": {"Key": {"FilterRules": rules}}})
    return configurations
