"""Lambda entry point of the inference function: one handler for API Gateway HTTP API (payload 2.0), REST API
(payload 1.0) and Lambda function URL events.

Every route is served by Powertools' resolvers. The prediction routes (``hot`` in the route table) are also matched
here first and answered directly by the same functions: the resolver's per-request work (event wrapping, route scan,
middleware chain, header normalisation for compression) costs about as much again as a one-row
LogisticRegression.predict, and predictions are the requests whose latency matters. Tests check that both paths
give the same answers.
"""

from __future__ import annotations

import threading
from typing import Any

import pybase64
from aws_lambda_powertools.event_handler import (
    APIGatewayHttpResolver,
    APIGatewayRestResolver,
    LambdaFunctionUrlResolver,
)
from aws_lambda_powertools.event_handler.api_gateway import ApiGatewayResolver
from aws_lambda_powertools.utilities.typing import LambdaContext

from lambdas.common.errors import InferenceError
from lambdas.common.settings import Settings
from lambdas.inference.body import encode_json
from lambdas.inference.exchange import Prediction
from lambdas.inference.observability import count, flush, logger, set_request_id
from lambdas.inference.routes import Route, answered, configure, hot_route, rejection, router, server_fault

__all__ = ["configure", "lambda_handler"]

UNSUPPORTED_EVENT = (
    "unsupported event: expected an API Gateway HTTP API (payload 2.0), REST API (payload 1.0) "
    "or Lambda function URL request"
)
_JSON_HEADERS = {"Content-Type": "application/json"}
_http_api = APIGatewayHttpResolver()
_rest_api = APIGatewayRestResolver()
_function_url = LambdaFunctionUrlResolver()
for _resolver in (_http_api, _rest_api, _function_url):
    _resolver.include_router(router)

# Powertools keeps the current event in class attributes, so one request is resolved at a time per process.
# Lambda sends one request at a time anyway; this keeps threaded callers (local server, tests) correct.
_resolve_lock = threading.Lock()

configure(Settings.from_env())


def lambda_handler(event: dict[str, Any], context: LambdaContext | None) -> dict[str, Any]:
    request = _classify(event)
    # Only the request id is attached to logs (not the whole context): cheaper, and works without a context.
    with _resolve_lock:
        set_request_id(getattr(context, "aws_request_id", None))
        try:
            if request is None:
                count("RequestRejected")
                logger.warning(UNSUPPORTED_EVENT)
                return _response(400, {"error": UNSUPPORTED_EVENT}, {})
            resolver, method, path, event = request
            hot = hot_route(method, path)
            if hot is not None:
                return _predict(event, *hot, context)
            return resolver.resolve(event, context)  # type: ignore[arg-type]
        except Exception:  # the routes answer their own errors: this is a fault around them, e.g. an odd event
            status, body = server_fault(context)
            return _response(status, body, {})
        finally:
            flush()


def _predict(
    event: dict[str, Any], route: Route, parameters: dict[str, str], context: LambdaContext | None
) -> dict[str, Any]:
    try:
        prediction: Prediction = route.handler(event, **parameters)
    except InferenceError as error:
        return _response(*rejection(error))
    except Exception:
        status, body = server_fault(context)
        return _response(status, body, {})
    content_type, answer, headers = answered(prediction)
    if isinstance(answer, bytes):
        return {
            "statusCode": 200,
            "headers": {"Content-Type": content_type, **headers},
            "body": pybase64.b64encode(answer).decode("ascii"),
            "isBase64Encoded": True,
        }
    return {"statusCode": 200, "headers": {**_JSON_HEADERS, **headers}, "body": answer, "isBase64Encoded": False}


def _response(status: int, body: Any, headers: dict[str, str]) -> dict[str, Any]:
    return {
        "statusCode": status,
        "headers": {**_JSON_HEADERS, **headers} if headers else _JSON_HEADERS.copy(),
        "body": encode_json(body),
        "isBase64Encoded": False,
    }


def _classify(event: Any) -> tuple[ApiGatewayResolver, str, str, dict[str, Any]] | None:
    """The resolver for an event's format, with its method and path (stage stripped as Powertools does), and the
    event to route: HTTP API and function URL events come with lower-cased header names, and a REST event is given
    them here, so the routes look a header up by its lower-case name alone."""
    if not isinstance(event, dict):
        return None
    context, headers = event.get("requestContext"), event.get("headers")
    if not isinstance(context, dict) or not isinstance(headers, dict | None):
        return None
    http = context.get("http")
    if event.get("version") == "2.0" and isinstance(http, dict):
        method, raw_path, stage = http.get("method"), event.get("rawPath"), context.get("stage")
        if not isinstance(method, str) or not isinstance(raw_path, str) or not isinstance(stage, str):
            return None
        path = raw_path[len(stage) + 1 :] if stage != "$default" else raw_path
        domain = context.get("domainName")
        resolver = _function_url if isinstance(domain, str) and ".lambda-url." in domain else _http_api
        return resolver, method.upper(), path, event
    rest_method, rest_path = event.get("httpMethod"), event.get("path")
    if isinstance(rest_method, str) and isinstance(rest_path, str):
        if headers:
            event = {**event, "headers": {str(name).lower(): value for name, value in headers.items()}}
        return _rest_api, rest_method.upper(), rest_path, event
    return None
