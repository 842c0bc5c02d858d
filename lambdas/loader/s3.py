"""The S3 calls the loader makes, and what their failures mean for the event: gone, superseded, retry, or final."""

from __future__ import annotations

from typing import Any, Protocol

from botocore.exceptions import BotoCoreError, ClientError

from lambdas.loader.errors import ObjectGone, PermanentFailure, Superseded, TransientFailure

_GONE_CODES = frozenset({"404", "NoSuchKey", "NoSuchVersion", "NotFound", "NoSuchBucket"})
_SUPERSEDED_CODES = frozenset({"412", "PreconditionFailed"})
# 403 is a deployment problem (policy, key permissions) rather than a bad object: keep the event by retrying it.
_RETRY_CODES = frozenset({"403", "AccessDenied", "SlowDown", "Throttling", "ThrottlingException", "RequestTimeout"})


class S3Reader(Protocol):
    """The S3 calls the loader makes (a boto3 S3 client satisfies it)."""

    def get_object(self, **kwargs: Any) -> dict[str, Any]: ...

    def head_object(self, **kwargs: Any) -> dict[str, Any]: ...

    def list_objects_v2(self, **kwargs: Any) -> dict[str, Any]: ...


def call_s3(operation: str, function: Any, **kwargs: Any) -> dict[str, Any]:
    """Call S3 and map its failures: gone or overwritten objects, permanent refusals, and transient errors."""
    try:
        response: dict[str, Any] = function(**kwargs)
    except ClientError as error:
        raise classify_client_error(operation, error) from error
    except BotoCoreError as error:
        raise TransientFailure(f"{operation}: {type(error).__name__}: {error}") from error
    return response


def classify_client_error(operation: str, error: ClientError) -> Exception:
    details = error.response.get("Error", {})
    code = str(details.get("Code", ""))
    status = int(error.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
    message = f"{operation}: {code or status}: {details.get('Message', '')}".rstrip(": ")
    if code in _GONE_CODES or status == 404:
        return ObjectGone(message)
    if code in _SUPERSEDED_CODES or status == 412:
        return Superseded(message)
    if code in _RETRY_CODES or status in (403, 429) or status >= 500 or not status:
        return TransientFailure(message)
    return PermanentFailure(message)
