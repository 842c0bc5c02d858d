"""HTTP routes of the inference API, shared by the HTTP API, REST API and function URL resolvers."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.exceptions import NotFoundError

from lambdas.common.errors import InferenceError, MethodNotAllowed
from lambdas.common.settings import Settings
from lambdas.inference import binary, exchange, protocol, tensor_json
from lambdas.inference.binary import BinaryAnswer
from lambdas.inference.body import body_bytes, body_text, encode_json, header, parse_json, read_json_object
from lambdas.inference.exchange import VERSION_HEADER, Prediction
from lambdas.inference.observability import count, logger
from lambdas.inference.service import InferenceService

router = Router()  # type: ignore[no-untyped-call]
_service: InferenceService | None = None


def configure(settings: Settings) -> InferenceService:
    """Serve the repository described by these settings (called once at start-up, and by tests)."""
    global _service
    _service = InferenceService(settings)
    return _service


def service() -> InferenceService:
    if _service is None:
        raise RuntimeError("the inference service is not configured")
    return _service


def json_body(event: dict[str, Any], *, optional: bool = False, tensors: bool = False) -> dict[str, Any]:
    """The JSON object a raw API Gateway or function URL event carries; with ``tensors``, a V2 inference request
    whose numeric input data are read straight into numpy arrays."""
    return read_json_object(
        event.get("body"),
        bool(event.get("isBase64Encoded")),
        header(event.get("headers"), "content-type"),
        service().settings.max_request_bytes,
        optional=optional,
        parse=tensor_json.parse_v2_request if tensors else parse_json,
    )


def v2_infer(event: dict[str, Any], name: str, version: str | None = None) -> Prediction:
    """A JSON body, or the binary extension's JSON header and bytes: parsed into one typed request either way."""
    header_length = header(event.get("headers"), binary.HEADER_LENGTH)
    if header_length is None:
        request = protocol.parse_v2(json_body(event, tensors=True))
    else:
        raw = body_bytes(event.get("body"), bool(event.get("isBase64Encoded")), service().settings.max_request_bytes)
        request = protocol.parse_v2(*binary.split_request(raw, header_length.strip()))
    answer = service().v2_infer
    return exchange.predict(service(), event, name, version, lambda model: answer(model, request), protocol.render_v2)


def invocations(event: dict[str, Any], name: str, version: str | None = None) -> Prediction:
    """MLflow's scoring protocol: its JSON bodies, or a CSV table with a header row."""
    content_type = header(event.get("headers"), "content-type") or ""
    if content_type.partition(";")[0].strip().lower() == "text/csv":
        limit = service().settings.max_request_bytes
        text = body_text(event.get("body"), bool(event.get("isBase64Encoded")), limit)
        request = protocol.parse_csv(text)
    else:
        request = protocol.parse_mlflow(json_body(event))
    answer = service().invocations
    return exchange.predict(service(), event, name, version, lambda model: answer(model, request), _predictions)


def v1_predict(event: dict[str, Any], name: str) -> Prediction:
    rows = protocol.parse_v1(json_body(event))
    answer = service().predict_rows
    return exchange.predict(service(), event, name, None, lambda model: answer(model, rows), _predictions)


def original_infer(event: dict[str, Any]) -> Prediction:
    request = protocol.parse_original(json_body(event))
    rows = request.rows
    answer = service().predict_rows
    return exchange.predict(
        service(), event, request.name, request.version, lambda model: answer(model, rows), _predicted_label
    )


def _predictions(tensor: Any) -> dict[str, Any]:
    return protocol.render_rows("predictions", tensor)


def _predicted_label(tensor: Any) -> dict[str, Any]:
    return protocol.render_rows("predicted_label", tensor)


def serving(event: dict[str, Any], name: str) -> dict[str, Any]:
    return service().serving(name)


def answered(prediction: Prediction) -> tuple[str, str | bytes, dict[str, str]]:
    """A prediction's content type, body and headers, as both the fast path and the resolver send them; what
    follows the answer (metrics, shadow, capture) is done here, once the body exists."""
    rendered = prediction.body
    content_type, body = exchange.encoded(rendered)
    headers = {VERSION_HEADER: str(prediction.version)}
    if isinstance(rendered, BinaryAnswer):
        headers[binary.HEADER_NAME] = str(len(rendered.header))
    exchange.follow_up(service(), prediction, content_type, body)
    return content_type, body, headers


def v2_metadata(event: dict[str, Any], name: str, version: str | None = None) -> dict[str, Any]:
    return service().v2_metadata(name, version)


def v2_ready(event: dict[str, Any], name: str, version: str | None = None) -> dict[str, Any]:
    model = service().model(name, version)
    if version is None:
        return {"name": name, "ready": True}
    return {"name": name, "version": str(model.version), "ready": True}


def live(event: dict[str, Any]) -> dict[str, Any]:
    return {"live": True}


def ready(event: dict[str, Any]) -> Response[Any]:
    if service().server_ready():
        return _json(HTTPStatus.OK, {"ready": True})
    return _json(HTTPStatus.SERVICE_UNAVAILABLE, {"error": "the model directory is not available"})


def server_metadata(event: dict[str, Any]) -> dict[str, Any]:
    return service().server_metadata()


def repository_index(event: dict[str, Any]) -> Response[Any]:
    # A list at the top level: returned through Response so it is not mistaken for a (body, status) pair.
    ready_only = protocol.parse_index(json_body(event, optional=True))
    return _json(HTTPStatus.OK, [entry.to_json() for entry in service().repository_index(ready_only)])


def v1_models(event: dict[str, Any]) -> dict[str, Any]:
    return service().v1_models()


def v1_model(event: dict[str, Any], name: str) -> dict[str, Any]:
    if name.endswith(":predict"):  # the predict path, asked for with GET
        raise MethodNotAllowed("GET", router.current_event.path, ("POST",))
    service().model(name)
    return {"name": name, "ready": True}


@dataclass(frozen=True)
class Route:
    method: str
    path: str  # with <parameter> segments, as Powertools writes them
    handler: Callable[..., Any]  # called with the raw event and the path parameters
    hot: bool = False  # a prediction: matched by the handler itself, before the Powertools resolver

    @property
    def pattern(self) -> re.Pattern[str]:
        return re.compile(re.sub(r"<(\w+)>", r"(?P<\1>[^/]+?)", self.path))


# Every route of the API, declared once: the resolver's registrations, the handler's fast matcher for predictions
# and the 405 answers for known paths asked with another method all come from this table.
ROUTES = (
    Route("POST", "/v2/models/<name>/infer", v2_infer, hot=True),
    Route("POST", "/v2/models/<name>/versions/<version>/infer", v2_infer, hot=True),
    Route("POST", "/v2/models/<name>/invocations", invocations, hot=True),
    Route("POST", "/v2/models/<name>/versions/<version>/invocations", invocations, hot=True),
    Route("GET", "/v2/models/<name>", v2_metadata),
    Route("GET", "/v2/models/<name>/versions/<version>", v2_metadata),
    Route("GET", "/v2/models/<name>/ready", v2_ready),
    Route("GET", "/v2/models/<name>/versions/<version>/ready", v2_ready),
    Route("GET", "/v2/models/<name>/serving", serving),
    Route("GET", "/v2/health/live", live),
    Route("GET", "/v2/health/ready", ready),
    Route("GET", "/v2", server_metadata),
    Route("POST", "/v2/repository/index", repository_index),
    Route("POST", "/v1/models/<name>:predict", v1_predict, hot=True),
    Route("GET", "/v1/models", v1_models),
    Route("GET", "/v1/models/<name>", v1_model),
    Route("POST", "/inference", original_infer, hot=True),
)
_PATTERNS = tuple((route, route.pattern) for route in ROUTES)
_HOT = tuple((route, pattern) for route, pattern in _PATTERNS if route.hot)


def _resolved(route: Route) -> Callable[..., Any]:
    def answer(**parameters: str) -> Any:
        result = route.handler(router.current_event.raw_event, **parameters)
        if isinstance(result, Prediction):
            content_type, body, headers = answered(result)
            return Response(status_code=200, content_type=content_type, body=body, headers=headers)
        if isinstance(result, dict):  # encoded here, as the handler encodes it: output tensors hold numpy arrays
            return Response(status_code=200, content_type=content_types.APPLICATION_JSON, body=encode_json(result))
        return result

    answer.__name__ = f"{route.handler.__name__}_{len(route.path)}"
    return answer


for _route in ROUTES:
    router.route(_route.path, _route.method)(_resolved(_route))


def hot_route(method: str, path: str) -> tuple[Route, dict[str, str]] | None:
    """The prediction route a request names, with its path parameters; None for every other request."""
    if method != "POST":
        return None
    for route, pattern in _HOT:
        match = pattern.fullmatch(path)
        if match is not None:
            return route, match.groupdict()
    return None


@router.exception_handler(NotFoundError)  # type: ignore[untyped-decorator]
def no_route(_: NotFoundError) -> Response[Any]:
    event = router.current_event
    method, path = event.http_method.upper(), event.path
    # The first route whose path matches names the resource (":predict" before the "/v1/models/<name>" it also fits).
    matched = next((route.path for route, pattern in _PATTERNS if pattern.fullmatch(path)), None)
    allowed = tuple(route.method for route in ROUTES if route.path == matched)
    if allowed and method not in allowed:
        raise MethodNotAllowed(method, path, allowed)
    count("RequestRejected")
    return _json(HTTPStatus.NOT_FOUND, {"error": f"no route for {method} {path}"})


@router.exception_handler(InferenceError)  # type: ignore[untyped-decorator]
def rejected(error: InferenceError) -> Response[Any]:
    status, body, headers = rejection(error)
    return Response(status_code=status, content_type=content_types.APPLICATION_JSON, body=body, headers=headers)


@router.exception_handler(Exception)  # type: ignore[untyped-decorator]
def fault(error: Exception) -> Response[Any]:
    status, body = server_fault(router.lambda_context)
    return _json(status, body)


def rejection(error: InferenceError) -> tuple[int, dict[str, str], dict[str, str]]:
    """Status, body and extra headers for a request the API refuses; counted and logged without the body."""
    count("RequestRejected")
    logger.info("request rejected", extra={"status": error.status_code, "reason": error.message})
    headers = {"Allow": ", ".join(error.allowed)} if isinstance(error, MethodNotAllowed) else {}
    return error.status_code, {"error": error.message}, headers


def server_fault(context: Any) -> tuple[int, dict[str, str]]:
    """Status and body for an unexpected failure, logged with its traceback; the caller sees only the request id."""
    count("ServerError")
    logger.exception("request failed")
    request_id = getattr(context, "aws_request_id", None) or "unknown"
    return HTTPStatus.INTERNAL_SERVER_ERROR, {"error": f"internal error (request id {request_id})"}


def _json(status: int, body: Any) -> Response[Any]:
    return Response(status_code=status, content_type=content_types.APPLICATION_JSON, body=body)
