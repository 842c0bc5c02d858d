"""HTTP routes of the inference API, shared by the HTTP API, REST API and function URL resolvers."""

from __future__ import annotations

import re
from http import HTTPStatus
from typing import Any

from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.exceptions import NotFoundError

from lambdas.common.settings import Settings
from lambdas.inference.body import header, read_json_object
from lambdas.inference.errors import InferenceError, MethodNotAllowed
from lambdas.inference.observability import count, logger
from lambdas.inference.service import InferenceService

router = Router()  # type: ignore[no-untyped-call]
_service: InferenceService | None = None

# Every path the API serves and the methods it allows there, for 405 answers to the others.
_PATHS = (
    ("/v2/models/<name>/infer", ("POST",)),
    ("/v2/models/<name>/versions/<version>/infer", ("POST",)),
    ("/v2/models/<name>", ("GET",)),
    ("/v2/models/<name>/versions/<version>", ("GET",)),
    ("/v2/models/<name>/ready", ("GET",)),
    ("/v2/models/<name>/versions/<version>/ready", ("GET",)),
    ("/v2/health/live", ("GET",)),
    ("/v2/health/ready", ("GET",)),
    ("/v2", ("GET",)),
    ("/v2/repository/index", ("POST",)),
    ("/v1/models/<name>:predict", ("POST",)),
    ("/v1/models", ("GET",)),
    ("/v1/models/<name>", ("GET",)),
    ("/inference", ("POST",)),
)
_PATH_PATTERNS = tuple((re.compile(re.sub(r"<\w+>", "[^/]+", rule)), methods) for rule, methods in _PATHS)


def configure(settings: Settings) -> InferenceService:
    """Serve the repository described by these settings (called once at start-up, and by tests)."""
    global _service
    _service = InferenceService(settings)
    return _service


def service() -> InferenceService:
    if _service is None:
        raise RuntimeError("the inference service is not configured")
    return _service


def json_body(event: dict[str, Any], *, optional: bool = False) -> dict[str, Any]:
    """The JSON object a raw API Gateway or function URL event carries."""
    return read_json_object(
        event.get("body"),
        bool(event.get("isBase64Encoded")),
        header(event.get("headers"), "content-type"),
        service().settings.max_request_bytes,
        optional=optional,
    )


def predict(event: dict[str, Any], route: str, name: str | None, version: str | None) -> dict[str, Any]:
    """Answer one of the prediction routes ("v2", "v1" or "original") for a raw event."""
    if route == "v2" and name is not None:
        return service().v2_infer(name, version, json_body(event))
    if route == "v1" and name is not None:
        return service().v1_predict(name, json_body(event))
    return service().original_infer(json_body(event))


@router.post("/v2/models/<name>/infer")
def v2_infer(name: str) -> dict[str, Any]:
    return predict(router.current_event.raw_event, "v2", name, None)


@router.post("/v2/models/<name>/versions/<version>/infer")
def v2_infer_version(name: str, version: str) -> dict[str, Any]:
    return predict(router.current_event.raw_event, "v2", name, version)


@router.post("/inference")
def original_infer() -> dict[str, Any]:
    return predict(router.current_event.raw_event, "original", None, None)


@router.post("/v1/models/<name>:predict")
def v1_predict(name: str) -> dict[str, Any]:
    return predict(router.current_event.raw_event, "v1", name, None)


@router.get("/v2/models/<name>")
def v2_metadata(name: str) -> dict[str, Any]:
    return service().v2_metadata(name, None)


@router.get("/v2/models/<name>/versions/<version>")
def v2_metadata_version(name: str, version: str) -> dict[str, Any]:
    return service().v2_metadata(name, version)


@router.get("/v2/models/<name>/ready")
def v2_ready(name: str) -> dict[str, Any]:
    service().model(name)
    return {"name": name, "ready": True}


@router.get("/v2/models/<name>/versions/<version>/ready")
def v2_ready_version(name: str, version: str) -> dict[str, Any]:
    model = service().model(name, version)
    return {"name": name, "version": str(model.version), "ready": True}


@router.get("/v2/health/live")
def live() -> dict[str, Any]:
    return {"live": True}


@router.get("/v2/health/ready")
def ready() -> Response[Any]:
    if service().server_ready():
        return _json(HTTPStatus.OK, {"ready": True})
    return _json(HTTPStatus.SERVICE_UNAVAILABLE, {"error": "the model directory is not available"})


@router.get("/v2")
def server_metadata() -> dict[str, Any]:
    return service().server_metadata()


@router.post("/v2/repository/index")
def repository_index() -> Response[Any]:
    # A list at the top level: returned through Response so it is not mistaken for a (body, status) pair.
    return _json(HTTPStatus.OK, service().repository_index(json_body(router.current_event.raw_event, optional=True)))


@router.get("/v1/models")
def v1_models() -> dict[str, Any]:
    return service().v1_models()


@router.get("/v1/models/<name>")
def v1_model(name: str) -> dict[str, Any]:
    if name.endswith(":predict"):  # the predict path, asked for with GET
        raise MethodNotAllowed("GET", router.current_event.path, ("POST",))
    service().model(name)
    return {"name": name, "ready": True}


@router.exception_handler(NotFoundError)  # type: ignore[untyped-decorator]
def no_route(_: NotFoundError) -> Response[Any]:
    event = router.current_event
    method, path = event.http_method.upper(), event.path
    for pattern, methods in _PATH_PATTERNS:
        if pattern.fullmatch(path) and method not in methods:
            raise MethodNotAllowed(method, path, methods)
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
