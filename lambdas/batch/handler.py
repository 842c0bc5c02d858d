"""The batch worker function's entry point: one image, a third command, called by the job's state machine with one
of three steps.

    {"step": "plan", "bucket": ..., "key": ..., "execution": ...}        -> the plan, or {"failed": manifest}
    {"BatchInput": {"step": "score", "plan": {...}}, "Items": [{"index": 3}, ...]}  -> {"scored": [counts, ...]}
    {"step": "assemble", "plan": {...}, "execution": ...}                 -> the manifest

``plan`` also takes the EventBridge "Object Created" event as the state machine receives it (``detail.bucket.name``,
``detail.object.key``). Models come from the same EFS and the same cache code as the inference function.
"""

from __future__ import annotations

import os
from functools import cache
from typing import Any

import boto3
from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.config import Config

from lambdas.batch.steps import DEFAULT_CHUNK_BYTES, JobFailed, Plan, assemble, plan, score
from lambdas.common.settings import Settings
from lambdas.inference.cache import LoadedModel, ModelCache

logger = Logger(service=os.environ.get("POWERTOOLS_SERVICE_NAME") or "batch")


@cache
def settings() -> Settings:
    return Settings.from_env()


@cache
def models() -> ModelCache:
    return ModelCache.from_settings(settings())


@cache
def s3_client() -> Any:
    return boto3.client("s3", config=Config(retries={"mode": "standard", "max_attempts": 5}))


def chunk_bytes() -> int:
    """The size of a job's byte ranges: BATCH_CHUNK_BYTES, else about 4 MB of rows."""
    raw = os.environ.get("BATCH_CHUNK_BYTES", "").strip()
    return int(raw) if raw.isdigit() and int(raw) > 0 else DEFAULT_CHUNK_BYTES


def model(name: str, version: int | None) -> LoadedModel:
    return models().get(name, version)


@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    batch_input = event.get("BatchInput")  # a Distributed Map's batch: its shared input beside the items
    if isinstance(batch_input, dict):
        event = {**batch_input, "Items": event.get("Items", [])}
    step = event.get("step")
    if step == "plan":
        bucket, key = _object(event)
        try:
            execution = str(event.get("execution") or "")
            planned = plan(s3_client(), bucket, key, model, execution=execution, chunk_bytes=chunk_bytes())
        except JobFailed as failed:
            logger.warning("batch job refused", extra={"key": key, "reason": str(failed)})
            return {"failed": failed.manifest}
        logger.info("batch job planned", extra={"key": key, "ranges": len(planned.ranges), "version": planned.version})
        return {"plan": planned.to_json(), "items": [{"index": index} for index in range(len(planned.ranges))]}
    if step == "score":
        job = Plan.from_json(event["plan"])
        return {"scored": [score(s3_client(), job, int(item["index"]), model) for item in event.get("Items", ())]}
    if step == "assemble":
        manifest = assemble(s3_client(), Plan.from_json(event["plan"]), execution=str(event.get("execution") or ""))
        logger.info("batch job finished", extra={"status": manifest["status"], "rows_in": manifest["rows_in"]})
        return manifest
    raise ValueError(f"unknown batch step {step!r}: expected plan, score or assemble")


def _object(event: dict[str, Any]) -> tuple[str, str]:
    detail = event.get("detail")
    if isinstance(detail, dict):  # EventBridge's Object Created event, as the rule passes it on
        return str(detail["bucket"]["name"]), str(detail["object"]["key"])
    return str(event["bucket"]), str(event["key"])
