"""The inference function's structured logger and CloudWatch metrics (embedded metric format)."""

from __future__ import annotations

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

SERVICE = "inference"
NAMESPACE = "ServerlessSklearn"

logger = Logger(service=SERVICE)
metrics = Metrics(namespace=NAMESPACE, service=SERVICE)


def count(name: str) -> None:
    metrics.add_metric(name=name, unit=MetricUnit.Count, value=1)


def flush() -> None:
    """Write the metrics gathered during one invocation, if any, as one EMF line."""
    if metrics.metric_set:
        metrics.flush_metrics()
