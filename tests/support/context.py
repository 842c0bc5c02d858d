"""Lambda contexts for calling the handlers directly: the local stack's own, with the fields the handlers read."""

from __future__ import annotations

from local_stack.lambda_context import LocalLambdaContext

INFERENCE_REQUEST_ID = "req-0123456789"


def inference_context() -> LocalLambdaContext:
    return LocalLambdaContext("inference", memory_limit_in_mb=1024, aws_request_id=INFERENCE_REQUEST_ID)


def loader_context() -> LocalLambdaContext:
    return LocalLambdaContext("loader", memory_limit_in_mb=1024, timeout_seconds=300.0)
