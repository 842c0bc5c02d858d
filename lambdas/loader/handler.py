"""Loader Lambda entry point: S3 notifications in, models published on the shared file system."""

from __future__ import annotations

import os
from functools import cache
from typing import Any

import boto3
from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.config import Config

from lambdas.common.settings import Settings
from lambdas.loader.process import DEFAULT_LOCK_TIMEOUT, Outcome, Status, process_event
from lambdas.loader.s3 import S3Reader

# Powertools' variables, as Terraform sets them, else the same names (tests).
SERVICE = os.environ.get("POWERTOOLS_SERVICE_NAME") or "loader"
logger = Logger(service=SERVICE)
metrics = Metrics(namespace=os.environ.get("POWERTOOLS_METRICS_NAMESPACE") or "ServerlessSklearn", service=SERVICE)

METRIC_BY_STATUS = {
    Status.PUBLISHED: "ModelPublished",
    Status.DELETED: "ModelDeleted",
    Status.SKIPPED: "EventSkipped",
    Status.REJECTED: "ModelRejected",
    Status.FAILED: "ModelFailed",
    Status.RETRY: "LoaderRetry",
}
# Time kept back from the function's timeout for logging, metrics and the error that asks for a retry.
_RESERVE_SECONDS = 10.0


class RetryableError(RuntimeError):
    """Raised after all records were tried when at least one failed transiently, so that Lambda retries the event
    (and, once retries are exhausted, sends it to the failure queue). Records already applied are skipped then."""


@cache
def settings() -> Settings:
    return Settings.from_env()


@cache
def s3_client() -> S3Reader:
    config = Config(retries={"mode": "standard", "max_attempts": 5}, connect_timeout=5, read_timeout=60)
    client: S3Reader = boto3.client("s3", config=config)
    return client


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, int]:
    summary = process_event(s3_client(), event, settings(), lock_timeout=_lock_timeout(context), report=_report)
    counts = summary.counts()
    metrics.add_metric(name="RecordsReceived", unit=MetricUnit.Count, value=len(summary.outcomes))
    logger.info("event processed", extra={"summary": counts})
    if summary.needs_retry:
        reasons = "; ".join(f"{o.key}: {o.reason}" for o in summary.needs_retry)
        raise RetryableError(f"{len(summary.needs_retry)} record(s) need a retry: {reasons}")
    return counts


def _report(outcome: Outcome) -> None:
    metrics.add_metric(name=METRIC_BY_STATUS[outcome.status], unit=MetricUnit.Count, value=1)
    if outcome.details.get("version_mismatch"):  # served although saved by another minor version
        metrics.add_metric(name="ModelVersionMismatch", unit=MetricUnit.Count, value=1)
    fields = outcome.log_fields()
    if outcome.status in (Status.PUBLISHED, Status.DELETED, Status.SKIPPED):
        logger.info(f"record {outcome.status.value}", extra=fields)
    elif outcome.status is Status.REJECTED:
        logger.warning("record rejected", extra=fields)
    elif outcome.status is Status.FAILED:
        logger.error("model not published", extra=fields)
    else:
        error = outcome.error
        exc_info = (type(error), error, error.__traceback__) if error is not None else None
        logger.error("record will be retried", extra=fields, exc_info=exc_info)


def _lock_timeout(context: LambdaContext) -> float:
    try:
        remaining = context.get_remaining_time_in_millis() / 1000
    except AttributeError:
        return DEFAULT_LOCK_TIMEOUT
    return max(1.0, min(DEFAULT_LOCK_TIMEOUT, remaining / 2 - _RESERVE_SECONDS))
