"""The local gateway hands each request to the inference handler as API Gateway (HTTP API 2.0) would."""

from __future__ import annotations

import base64
import http.client
import json
import socket
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from local_stack.gateway import MAX_GATEWAY_BODY_BYTES, InferenceGateway
from tests.support.gateway import Recorder, running_gateway


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
def gateway(recorder: Recorder) -> Iterator[InferenceGateway]:
    with running_gateway(recorder) as server:
        yield server


def send(
    gateway: InferenceGateway,
    method: str,
    target: str,
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, dict[str, str], bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", gateway.port, timeout=10)
    try:
        connection.request(method, target, body=body, headers=headers or {})
        response = connection.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        connection.close()


def test_a_json_post_becomes_an_http_api_2_event(gateway: InferenceGateway, recorder: Recorder) -> None:
    body = json.dumps({"inputs": []}).encode()
    send(gateway, "POST", "/v2/models/iris/infer?x=1&x=2&y=", body, {"Content-Type": "application/json", "X-Id": "7"})

    event = recorder.events[0]
    assert event["version"] == "2.0"
    assert event["routeKey"] == "$default"
    assert event["rawPath"] == "/v2/models/iris/infer"
    assert event["rawQueryString"] == "x=1&x=2&y="
    assert event["queryStringParameters"] == {"x": "1,2", "y": ""}
    assert event["headers"]["content-type"] == "application/json"
    assert event["headers"]["x-id"] == "7"
    assert event["body"] == body.decode()
    assert event["isBase64Encoded"] is False
    http = event["requestContext"]["http"]
    assert (http["method"], http["path"], http["sourceIp"]) == ("POST", "/v2/models/iris/infer", "127.0.0.1")
    assert event["requestContext"]["requestId"]


def test_the_path_arrives_percent_decoded_and_the_query_string_does_not(
    gateway: InferenceGateway, recorder: Recorder
) -> None:
    send(gateway, "GET", "/v2/models/%E2%98%83%20x/ready?q=a%20b")

    event = recorder.events[0]
    assert event["rawPath"] == "/v2/models/\u2603 x/ready"
    assert event["rawQueryString"] == "q=a%20b"
    assert event["queryStringParameters"] == {"q": "a b"}


def test_a_binary_body_is_base64_encoded(gateway: InferenceGateway, recorder: Recorder) -> None:
    body = bytes(range(256))
    send(gateway, "POST", "/inference", body, {"Content-Type": "application/octet-stream"})

    event = recorder.events[0]
    assert event["isBase64Encoded"] is True
    assert base64.b64decode(event["body"]) == body


def test_json_that_is_not_utf8_is_base64_encoded(gateway: InferenceGateway, recorder: Recorder) -> None:
    send(gateway, "POST", "/inference", b'{"name": "\xff"}', {"Content-Type": "application/json"})

    assert recorder.events[0]["isBase64Encoded"] is True


def test_a_get_has_no_body(gateway: InferenceGateway, recorder: Recorder) -> None:
    send(gateway, "GET", "/v2/health/live")

    assert "body" not in recorder.events[0]
    assert recorder.events[0]["isBase64Encoded"] is False


def test_cookies_are_split_out_of_the_headers(gateway: InferenceGateway, recorder: Recorder) -> None:
    send(gateway, "GET", "/v2", headers={"Cookie": "a=1; b=2"})

    event = recorder.events[0]
    assert event["cookies"] == ["a=1", "b=2"]
    assert "cookie" not in event["headers"]


def test_a_chunked_body_is_reassembled(gateway: InferenceGateway, recorder: Recorder) -> None:
    chunks = iter([b'{"name": ', b'"iris"}'])
    connection = http.client.HTTPConnection("127.0.0.1", gateway.port, timeout=10)
    try:
        connection.request("POST", "/inference", body=chunks, headers={"Content-Type": "application/json"})
        assert connection.getresponse().status == 200
    finally:
        connection.close()

    assert json.loads(recorder.events[0]["body"]) == {"name": "iris"}


def test_the_handler_response_goes_back_with_status_headers_and_body(
    gateway: InferenceGateway, recorder: Recorder
) -> None:
    recorder.answer = {
        "statusCode": 404,
        "headers": {"content-type": "application/json", "x-model": "iris"},
        "cookies": ["s=1"],
        "body": json.dumps({"error": "model iris not found"}),
        "isBase64Encoded": False,
    }

    status, headers, body = send(gateway, "GET", "/v2/models/iris")

    assert status == 404
    assert headers["x-model"] == "iris"
    assert headers["set-cookie"] == "s=1"
    assert headers["apigw-requestid"] == recorder.events[0]["requestContext"]["requestId"]
    assert json.loads(body) == {"error": "model iris not found"}


def test_a_base64_response_body_is_decoded(gateway: InferenceGateway, recorder: Recorder) -> None:
    recorder.answer = {"statusCode": 200, "body": base64.b64encode(b"\x00\x01").decode(), "isBase64Encoded": True}

    assert send(gateway, "GET", "/x")[2] == b"\x00\x01"


def test_a_result_without_status_code_is_a_json_200(gateway: InferenceGateway, recorder: Recorder) -> None:
    recorder.answer = {"live": True}

    status, headers, body = send(gateway, "GET", "/v2/health/live")

    assert (status, headers["content-type"], json.loads(body)) == (200, "application/json", {"live": True})


def test_a_head_request_gets_headers_and_no_body(gateway: InferenceGateway, recorder: Recorder) -> None:
    recorder.answer = {"statusCode": 200, "headers": {"content-type": "application/json"}, "body": '{"a": 1}'}

    status, headers, body = send(gateway, "HEAD", "/v2")

    assert (status, headers["content-length"], body) == (200, "8", b"")


@pytest.mark.parametrize("failure", [RuntimeError("boom"), {"statusCode": "teapot"}, {"statusCode": 99}])
def test_a_failing_or_malformed_handler_is_a_bare_500(
    gateway: InferenceGateway, recorder: Recorder, failure: Any
) -> None:
    recorder.answer = failure

    status, _, body = send(gateway, "GET", "/v2")

    assert status == 500
    assert json.loads(body) == {"message": "Internal Server Error"}
    assert b"boom" not in body


def test_a_body_over_the_gateway_limit_never_reaches_the_handler(gateway: InferenceGateway, recorder: Recorder) -> None:
    status, _, body = send(gateway, "POST", "/inference", b"x" * (MAX_GATEWAY_BODY_BYTES + 1))

    assert status == 413
    assert json.loads(body) == {"message": "Request Entity Too Large"}
    assert recorder.events == []


def test_an_unreadable_content_length_is_a_400(gateway: InferenceGateway, recorder: Recorder) -> None:
    status, _, _ = send(gateway, "POST", "/inference", None, {"Content-Length": "ten"})

    assert status == 400
    assert recorder.events == []


def test_the_server_stays_up_after_a_failure(gateway: InferenceGateway, recorder: Recorder) -> None:
    recorder.answer = RuntimeError("boom")
    send(gateway, "GET", "/v2")
    recorder.answer = {"statusCode": 204}

    assert send(gateway, "GET", "/v2")[0] == 204


@pytest.mark.parametrize("method", ["GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "TRACE", "PROPFIND"])
def test_every_method_reaches_the_handler(gateway: InferenceGateway, recorder: Recorder, method: str) -> None:
    recorder.answer = {"statusCode": 405, "body": '{"error": "method not allowed"}'}

    status, _, _ = send(gateway, method, "/v2/models/iris/infer")

    assert status == 405
    assert recorder.events[0]["requestContext"]["http"]["method"] == method


def test_one_connection_serves_request_after_request(gateway: InferenceGateway, recorder: Recorder) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", gateway.port, timeout=10)
    try:
        for number in range(3):
            connection.request("POST", "/v2/models/iris/infer", body=json.dumps({"n": number}).encode())
            response = connection.getresponse()
            assert (response.status, response.read(), response.version) == (200, b"{}", 11)
    finally:
        connection.close()

    assert [json.loads(event["body"])["n"] for event in recorder.events] == [0, 1, 2]


def test_stopping_ends_idle_kept_alive_connections_at_once(recorder: Recorder) -> None:
    server = InferenceGateway("127.0.0.1", 0, recorder, quiet=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    connection.request("GET", "/v2/health/live")
    connection.getresponse().read()

    server.shutdown()
    server.server_close()
    thread.join(timeout=20)  # a guard: the idle connection's own timeout is 30 s

    assert not thread.is_alive(), "the idle connection must not hold the stop for its 30 s timeout"
    assert connection.sock is not None and connection.sock.recv(1) == b"", "the server closed the idle connection"
    connection.close()


def exchange(gateway: InferenceGateway, head: bytes, body: bytes = b"") -> bytes:
    """Everything the gateway writes back for a request sent byte for byte, until it closes the connection."""
    with socket.create_connection(("127.0.0.1", gateway.port), timeout=10) as connection:
        connection.sendall(head + body)
        connection.shutdown(socket.SHUT_WR)
        received = b""
        while chunk := connection.recv(65536):
            received += chunk
    return received


def test_repeated_header_fields_arrive_joined_by_commas(gateway: InferenceGateway, recorder: Recorder) -> None:
    exchange(gateway, b"GET /v2 HTTP/1.1\r\nHost: h\r\nX-Tag: a\r\nx-tag: b\r\nConnection: close\r\n\r\n")

    assert recorder.events[0]["headers"]["x-tag"] == "a,b"


@pytest.mark.parametrize(
    ("head", "status"),
    [
        (b"GET /v2 HTTP/1.1\r\nX-Folded: a\r\n b\r\n\r\n", b"400"),
        (b"GET /v2 HTTP/1.1\r\nX-Spaced : a\r\n\r\n", b"400"),
        (b"GET /v2 HTTP/1.1\r\nno colon here\r\n\r\n", b"400"),
        (b"GET /v2 HTTP/1.1\r\n" + b"".join(b"X-%d: 1\r\n" % n for n in range(101)) + b"\r\n", b"431"),
        (b"GET /v2 HTTP/1.1\r\nX-Long: " + b"a" * 70_000 + b"\r\n\r\n", b"431"),
        (b"GET /v2 HTTP/2.0\r\n\r\n", b"505"),
        (b"GET /v2 SPDY/3\r\n\r\n", b"400"),
        (b"GET /v2\r\n\r\n", b"400"),
    ],
    ids=["folded", "space-before-colon", "no-colon", "101-fields", "long-line", "http2", "not-http", "http09"],
)
def test_an_unreadable_request_head_is_a_json_4xx_that_never_reaches_the_handler(
    gateway: InferenceGateway, recorder: Recorder, head: bytes, status: bytes
) -> None:
    answer = exchange(gateway, head)

    status_line, _, rest = answer.partition(b"\r\n")
    assert status_line.split()[1] == status
    assert b"connection: close" in rest.lower()
    assert isinstance(json.loads(rest.partition(b"\r\n\r\n")[2])["message"], str)
    assert recorder.events == []


def test_connection_close_is_honoured_and_said(gateway: InferenceGateway, recorder: Recorder) -> None:
    head = b"GET /v2 HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\nGET /v2 HTTP/1.1\r\nHost: h\r\n\r\n"

    answer = exchange(gateway, head)

    assert answer.count(b"HTTP/1.1 200 OK") == 1
    assert b"connection: close" in answer.lower()
    assert len(recorder.events) == 1


def test_a_client_that_expects_100_continue_is_told_to_send_its_body(
    gateway: InferenceGateway, recorder: Recorder
) -> None:
    head = b"POST /inference HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 2\r\nConnection: close\r\n\r\n"

    answer = exchange(gateway, head, b"{}")

    assert answer.startswith(b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\n")
    assert recorder.events[0]["body"] == "{}"


@pytest.mark.parametrize("header", [{"x-injected": "a\r\nset-cookie: s=1"}, {"x\nbad": "1"}, {"x-snow": "\u2603"}])
def test_a_handler_header_that_cannot_be_written_is_a_bare_500(
    gateway: InferenceGateway, recorder: Recorder, header: dict[str, str]
) -> None:
    recorder.answer = {"statusCode": 200, "headers": header, "body": "{}"}

    status, headers, body = send(gateway, "GET", "/v2")

    assert (status, json.loads(body)) == (500, {"message": "Internal Server Error"})
    assert "set-cookie" not in headers
