"""The inference function's structured logger and CloudWatch metrics (embedded metric format)."""

from __future__ import annotations

import logging
import os

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

# Powertools' own variables, which Terraform sets per function, name the service and the namespace; these are the
# same names for a process started without them (tests, the benchmarks).
SERVICE = os.environ.get("POWERTOOLS_SERVICE_NAME") or "inference"
NAMESPACE = os.environ.get("POWERTOOLS_METRICS_NAMESPACE") or "ServerlessSklearn"

logger = Logger(service=SERVICE)
metrics = Metrics(namespace=NAMESPACE, service=SERVICE)
_request_id: str | None = None


class _RequestId(logging.Filter):
    """Stamps each log record with the current request's id. Most requests log nothing, so the id is attached when
    a record is made rather than to the logger's keys on every request."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = _request_id
        return True


logger.addFilter(_RequestId())


def set_request_id(request_id: str | None) -> None:
    global _request_id
    _request_id = request_id


def count(name: str) -> None:
    metrics.add_metric(name=name, unit=MetricUnit.Count, value=1)


def flush() -> None:
    """Write the metrics gathered during one invocation, if any, as one EMF line."""
    if metrics.metric_set:
        metrics.flush_metrics()
        # With metrics disabled (POWERTOOLS_METRICS_DISABLED) Powertools writes nothing and keeps the set, which
        # would then grow and be flushed again on every request.
        metrics.clear_metrics()
