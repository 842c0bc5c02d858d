"""An HTTP server on 127.0.0.1 that plays API Gateway (HTTP API, payload format 2.0) in front of a handler.

Each request becomes the event API Gateway would send: the path percent-decoded in ``rawPath``, the query string
left encoded, header names lower-cased with repeated values joined by commas, cookies split out, and the body as
text or, when it is not text, base64. The handler's answer is written back the way API Gateway does it.

The request head is read here, not by ``http.server``, whose header parsing goes through the ``email`` package and
took longer than the inference function's own work on a one-row request; each answer leaves in one write.
"""

from __future__ import annotations

import base64
import contextlib
import json
import logging
import re
import socket
import threading
import time
import uuid
from collections.abc import Callable
from email.utils import formatdate
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from local_stack.authorization import IamAuthorizer

log = logging.getLogger("local_stack.gateway")

# API Gateway HTTP APIs refuse larger payloads before calling the integration.
MAX_GATEWAY_BODY_BYTES = 10 * 1024 * 1024
# A refused body is read and discarded up to this size, so the client sees the 413 instead of a reset connection.
MAX_DRAIN_BYTES = 64 * 1024 * 1024
_CHUNK = 64 * 1024
_TEXT_TYPES = ("application/json", "application/xml", "application/javascript", "application/x-www-form-urlencoded")

_METHOD = re.compile(r"[A-Z][A-Z-]{0,31}")
# Limits on a request head, as http.server sets them.
MAX_LINE_BYTES = 65536
MAX_HEADERS = 100
_HTTP_VERSIONS = ("HTTP/1.0", "HTTP/1.1")
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
# What a response header's name or value may not hold: line breaks (they would end the field) or text beyond Latin-1.
_UNSAFE_FIELD = re.compile(r"[\r\n\0]|[^\x00-\xff]")

Invoke = Callable[[dict[str, Any]], Any]


class BodyTooLarge(Exception):
    """The request body is over the gateway's limit."""


class BadFraming(Exception):
    """The request body's length or chunked framing cannot be read."""


class RequestHeaders:
    """A request's header fields in the order they came, looked up by case-insensitive name (the first value)."""

    def __init__(self, fields: list[tuple[str, str]]) -> None:
        self._fields = fields
        self._first: dict[str, str] = {}
        for name, value in fields:
            self._first.setdefault(name.lower(), value)

    def get(self, name: str, default: str | None = None) -> str | None:
        return self._first.get(name.lower(), default)

    def items(self) -> list[tuple[str, str]]:
        return list(self._fields)

    def joined(self) -> dict[str, str]:
        """Lower-cased names, repeated values joined by commas, as API Gateway passes them on."""
        lowered: dict[str, str] = {}
        for name, value in self._fields:
            key = name.lower()
            lowered[key] = f"{lowered[key]},{value}" if key in lowered else value
        return lowered


def is_text(content_type: str | None, body: bytes) -> bool:
    media_type = (content_type or "").split(";", 1)[0].strip().lower()
    textual = (
        not media_type
        or media_type.startswith("text/")
        or media_type in _TEXT_TYPES
        or media_type.endswith(("+json", "+xml"))
    )
    if not textual:
        return False
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def build_http_api_event(
    *,
    method: str,
    target: str,
    headers: RequestHeaders,
    body: bytes,
    source_ip: str,
    request_id: str,
    domain_name: str,
    caller: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The HTTP API payload format 2.0 event for one request; ``caller`` is the IAM identity that signed it."""
    parts = urlsplit(target)
    raw_path = unquote(parts.path or "/")
    lowered = headers.joined()
    cookies = [c.strip() for c in lowered.pop("cookie", "").split(";") if c.strip()]
    lowered.setdefault("x-forwarded-for", source_ip)
    lowered.setdefault("x-forwarded-proto", "http")
    now = time.time()
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": raw_path,
        "rawQueryString": parts.query,
        "headers": lowered,
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "local",
            "domainName": domain_name,
            "domainPrefix": domain_name.split(".", 1)[0],
            "http": {
                "method": method,
                "path": raw_path,
                "protocol": "HTTP/1.1",
                "sourceIp": source_ip,
                "userAgent": lowered.get("user-agent", ""),
            },
            "requestId": request_id,
            "routeKey": "$default",
            "stage": "$default",
            "time": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)),
            "timeEpoch": int(now * 1000),
        },
        "isBase64Encoded": False,
    }
    if caller is not None:
        event["requestContext"]["authorizer"] = {"iam": caller}
    if cookies:
        event["cookies"] = cookies
    query: dict[str, str] = {}
    for key, value in parse_qsl(parts.query, keep_blank_values=True):
        query[key] = f"{query[key]},{value}" if key in query else value
    if query:
        event["queryStringParameters"] = query
    if body:
        if is_text(lowered.get("content-type"), body):
            event["body"] = body.decode("utf-8")
        else:
            event["body"] = base64.b64encode(body).decode("ascii")
            event["isBase64Encoded"] = True
    return event


class GatewayResponse:
    """What goes back on the wire for a handler's result, read the way API Gateway reads payload format 2.0."""

    def __init__(self, status: int, headers: list[tuple[str, str]], body: bytes) -> None:
        self.status = status
        self.headers = headers
        self.body = body

    @classmethod
    def json(cls, status: int, payload: dict[str, Any]) -> GatewayResponse:
        return cls(status, [("content-type", "application/json")], json.dumps(payload).encode())

    @classmethod
    def from_result(cls, result: Any) -> GatewayResponse:
        if not isinstance(result, dict) or "statusCode" not in result:
            # Format 2.0 treats any other JSON value as a 200 body.
            return cls(200, [("content-type", "application/json")], json.dumps(result).encode())
        status = result["statusCode"]
        if not isinstance(status, int) or isinstance(status, bool) or not 100 <= status <= 599:
            raise ValueError(f"statusCode must be an integer HTTP status, got {status!r}")
        headers: list[tuple[str, str]] = [(str(k), str(v)) for k, v in (result.get("headers") or {}).items()]
        for name, values in (result.get("multiValueHeaders") or {}).items():
            headers.extend((str(name), str(value)) for value in values)
        headers.extend(("set-cookie", str(cookie)) for cookie in result.get("cookies") or [])
        for name, value in headers:
            if not name or _UNSAFE_FIELD.search(name) or _UNSAFE_FIELD.search(value):
                raise ValueError(f"header {name[:100]!r} cannot be written")
        raw_body = result.get("body")
        if raw_body is None:
            body = b""
        elif result.get("isBase64Encoded"):
            body = base64.b64decode(raw_body)
        else:
            body = str(raw_body).encode("utf-8")
        return cls(status, headers, body)


_REASONS = {status.value: status.phrase for status in HTTPStatus}
_date_cache: tuple[int, str] = (0, "")


def _http_date() -> str:
    """The Date header's value, formatted once a second."""
    global _date_cache
    now = int(time.time())
    if _date_cache[0] != now:
        _date_cache = (now, formatdate(now, usegmt=True))
    return _date_cache[1]


class _RequestHandler(BaseHTTPRequestHandler):
    server: InferenceGateway
    # Keep-alive, as API Gateway offers: a client's connection serves request after request. Every answer carries
    # its Content-Length, which HTTP/1.1 needs to frame it.
    protocol_version = "HTTP/1.1"
    # An answer leaves in one write, and at once: with Nagle's algorithm a small write could wait for the client's
    # delayed ACK (about 40 ms) on a kept-alive connection.
    disable_nagle_algorithm = True
    request_headers: RequestHeaders
    # A client that stops sending, or an idle kept-alive connection, must not hold a worker thread for ever.
    timeout = 30

    def __getattr__(self, name: str) -> Any:
        # The $default route takes every method: the handler, not the gateway, decides what a method means.
        if name.startswith("do_") and _METHOD.fullmatch(name[3:]):
            return self._serve
        raise AttributeError(name)

    def do_HEAD(self) -> None:
        self._serve(send_body=False)

    def parse_request(self) -> bool:
        """The request line and header fields, read from ``raw_requestline`` and the connection as ``http.server``
        asks for every request; False, with the error answered, when they cannot be read."""
        self.close_connection = True
        self.requestline = str(self.raw_requestline, "iso-8859-1").rstrip("\r\n")
        words = self.requestline.split()
        if len(words) != 3:
            return self._refuse_head(HTTPStatus.BAD_REQUEST, "Bad request syntax")
        method, target, version = words
        if version not in _HTTP_VERSIONS:
            known = version.startswith("HTTP/")
            status = HTTPStatus.HTTP_VERSION_NOT_SUPPORTED if known else HTTPStatus.BAD_REQUEST
            return self._refuse_head(status, f"Unsupported protocol version {version[:20]!r}")
        # A target starting with "//" would read as a host name: reduced to one slash, as http.server does.
        path = "/" + target.lstrip("/") if target.startswith("//") else target
        self.command, self.path, self.request_version = method, path, version
        fields: list[tuple[str, str]] = []
        while True:
            line = self.rfile.readline(MAX_LINE_BYTES + 1)
            if len(line) > MAX_LINE_BYTES:
                return self._refuse_head(HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE, "Header line too long")
            if line in (b"\r\n", b"\n", b""):
                break
            if len(fields) == MAX_HEADERS:
                return self._refuse_head(HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE, "Too many headers")
            name, colon, value = str(line, "iso-8859-1").partition(":")
            # A field name is a token: a folded line or "Name :" is refused, as RFC 9112 asks.
            if not colon or not _TOKEN.fullmatch(name):
                return self._refuse_head(HTTPStatus.BAD_REQUEST, "Bad header line")
            fields.append((name, value.strip()))
        self.request_headers = RequestHeaders(fields)
        connection = (self.request_headers.get("connection") or "").lower()
        self.close_connection = connection == "close" or (version == "HTTP/1.0" and connection != "keep-alive")
        if version == "HTTP/1.1" and (self.request_headers.get("expect") or "").lower() == "100-continue":
            self.wfile.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        return True

    def _refuse_head(self, status: HTTPStatus, message: str) -> bool:
        self.close_connection = True
        self._write(GatewayResponse.json(status, {"message": message}), str(uuid.uuid4()), send_body=True)
        return False

    def _serve(self, *, send_body: bool = True) -> None:
        started = time.monotonic()
        request_id = str(uuid.uuid4())
        try:
            body = self._read_body()
        except BodyTooLarge:
            self.close_connection = True
            response = GatewayResponse.json(413, {"message": "Request Entity Too Large"})
        except BadFraming as error:
            self.close_connection = True
            response = GatewayResponse.json(400, {"message": f"Bad Request: {error}"})
        else:
            response = self._authorize_and_invoke(body, request_id)
        self._write(response, request_id, send_body=send_body)
        if not self.server.quiet:
            took = (time.monotonic() - started) * 1000
            log.info("%s %s -> %d (%.1f ms)", self.command, self.path[:200], response.status, took)

    def _authorize_and_invoke(self, body: bytes, request_id: str) -> GatewayResponse:
        authorizer = self.server.authorizer
        if authorizer is None:
            return self._invoke(body, request_id, None)
        refusal = authorizer.check(self.command, self.path, self.request_headers.joined(), body)
        if refusal is not None:
            payload = json.dumps({"message": refusal.message}).encode()
            headers = [("content-type", "application/json"), ("x-amzn-errortype", refusal.error_type)]
            return GatewayResponse(refusal.status, headers, payload)
        return self._invoke(body, request_id, authorizer.identity())

    def _local_answer(self) -> GatewayResponse | None:
        """The stack's own paths (``/_local/...``), answered here rather than by the function."""
        answer = self.server.local_paths(self.path) if self.server.local_paths and self.command == "GET" else None
        return GatewayResponse.json(200, answer) if answer is not None else None

    def _invoke(self, body: bytes, request_id: str, caller: dict[str, Any] | None) -> GatewayResponse:
        local = self._local_answer()
        if local is not None:
            return local
        host = self.request_headers.get("host") or "{}:{}".format(*self.server.server_address[:2])
        event = build_http_api_event(
            method=self.command,
            target=self.path,
            headers=self.request_headers,
            body=body,
            source_ip=self.client_address[0],
            request_id=request_id,
            domain_name=host,
            caller=caller,
        )
        try:
            return GatewayResponse.from_result(self.server.invoke(event))
        except Exception:
            # API Gateway answers a failed or malformed integration response with a bare 500.
            log.exception("request %s: the handler failed or returned an unusable response", request_id)
            return GatewayResponse.json(500, {"message": "Internal Server Error"})

    def _read_body(self) -> bytes:
        if "chunked" in (self.request_headers.get("transfer-encoding") or "").lower():
            return self._read_chunked()
        raw_length = self.request_headers.get("content-length")
        if raw_length is None:
            return b""
        try:
            length = int(raw_length)
        except ValueError:
            raise BadFraming(f"content-length {raw_length!r} is not a number") from None
        if length < 0:
            raise BadFraming("negative content-length")
        if length > MAX_GATEWAY_BODY_BYTES:
            if length <= MAX_DRAIN_BYTES:
                self._discard(length)
            raise BodyTooLarge
        return self.rfile.read(length)

    def _read_chunked(self) -> bytes:
        parts: list[bytes] = []
        total = 0
        while True:
            line = self.rfile.readline(1024)
            try:
                size = int(line.split(b";", 1)[0].strip(), 16)
            except ValueError:
                raise BadFraming("unreadable chunk size") from None
            if size == 0:
                while self.rfile.readline(1024).strip():
                    pass
                return b"".join(parts)
            total += size
            if total > MAX_GATEWAY_BODY_BYTES:
                raise BodyTooLarge
            parts.append(self.rfile.read(size))
            self.rfile.readline(1024)

    def _discard(self, length: int) -> None:
        remaining = length
        while remaining > 0:
            chunk = self.rfile.read(min(_CHUNK, remaining))
            if not chunk:
                return
            remaining -= len(chunk)

    def _write(self, response: GatewayResponse, request_id: str, *, send_body: bool) -> None:
        lines = [f"{self.protocol_version} {response.status} {_REASONS.get(response.status, '')}"]
        names = set()
        for name, value in response.headers:
            lowered = name.lower()
            if lowered in ("content-length", "connection", "transfer-encoding"):
                continue
            names.add(lowered)
            lines.append(f"{name}: {value}")
        if "content-type" not in names and response.body:
            lines.append("content-type: application/json")
        if "date" not in names:
            lines.append(f"date: {_http_date()}")
        lines.append(f"apigw-requestid: {request_id}")
        lines.append(f"content-length: {len(response.body)}")
        if self.close_connection:
            lines.append("connection: close")
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        self.wfile.write(head + response.body if send_body else head)

    def log_message(self, format: str, *args: Any) -> None:
        # Requests are logged once each by _serve, with their status and time.
        pass


class InferenceGateway(ThreadingHTTPServer):
    """Serves on ``host:port`` (port 0 picks a free one) and hands every request to ``invoke`` as an event; with an
    ``authorizer``, only the requests it admits, as an IAM-authorized route does."""

    daemon_threads = False
    block_on_close = True

    def __init__(
        self,
        host: str,
        port: int,
        invoke: Invoke,
        *,
        quiet: bool = False,
        authorizer: IamAuthorizer | None = None,
        local_paths: Callable[[str], dict[str, Any] | None] | None = None,
    ) -> None:
        self.invoke = invoke
        self.local_paths = local_paths
        self.quiet = quiet
        self.authorizer = authorizer
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        self._closing = False
        super().__init__((host, port), _RequestHandler)

    def process_request(self, request: Any, client_address: Any) -> None:
        # Tracked as it is accepted, before its thread runs: a stop in between still ends it.
        with self._connections_lock:
            self._connections.add(request)
            closing = self._closing
        if closing:
            with contextlib.suppress(OSError):
                request.shutdown(socket.SHUT_RD)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._connections_lock:
            self._connections.discard(request)
        super().shutdown_request(request)

    def end_idle_connections(self) -> None:
        """End every kept-alive connection once its request in flight, if any, has its answer.

        Only reading is shut down: a thread waiting for a connection's next request sees its end and returns, while
        a request in flight still writes its answer. A connection accepted from now on is ended the same way.
        """
        with self._connections_lock:
            self._closing = True
            connections = list(self._connections)
        for connection in connections:
            with contextlib.suppress(OSError):  # already closed by its client
                connection.shutdown(socket.SHUT_RD)

    def server_close(self) -> None:
        """Stop listening, end kept-alive connections, and wait for the requests in flight."""
        self.end_idle_connections()
        super().server_close()

    @property
    def port(self) -> int:
        return int(self.server_address[1])
