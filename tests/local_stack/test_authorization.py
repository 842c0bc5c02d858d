"""The local gateway asks who is calling, as a default deployment's API does (api_authorization_type AWS_IAM):
SigV4 for execute-api with the stack's credentials, or a 403 with API Gateway's body, on every route."""

from __future__ import annotations

import http.client
import json
import shutil
import subprocess
import time
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.credentials import Credentials

from local_stack.authorization import IamAuthorizer, authorization_type
from local_stack.gateway import InferenceGateway
from local_stack.stack import local_credentials
from serverless_sklearn.signing import Scope, sign
from tests.support.gateway import Recorder, running_gateway

ROUTES = [
    ("GET", "/v2"),
    ("GET", "/v2/health/ready"),
    ("GET", "/v2/models/iris/ready"),
    ("POST", "/v2/models/iris/infer"),
    ("POST", "/v1/models/iris:predict"),
    ("POST", "/invocations"),
    ("GET", "/no/such/route"),
    ("DELETE", "/v2/models/iris"),
]
BODY = json.dumps({"inputs": [{"name": "x", "shape": [1], "datatype": "FP64", "data": [1.0]}]}).encode()
JSON = {"content-type": "application/json"}
STACK_SCOPE = Scope("execute-api", "us-east-1")


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
def clock() -> list[float]:
    return [time.time()]


@pytest.fixture
def gateway(recorder: Recorder, clock: list[float]) -> Iterator[InferenceGateway]:
    authorizer = IamAuthorizer(local_credentials(), "us-east-1", clock=lambda: clock[0])
    with running_gateway(recorder, authorizer) as server:
        yield server


def send(
    gateway: InferenceGateway, method: str, path: str, body: bytes | None, headers: dict[str, str]
) -> tuple[int, dict[str, str], Any]:
    connection = http.client.HTTPConnection("127.0.0.1", gateway.port, timeout=10)
    try:
        connection.request(method, path, body=body, headers=headers)
        response = connection.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, json.loads(response.read())
    finally:
        connection.close()


def signed(
    gateway: InferenceGateway,
    method: str,
    path: str,
    body: bytes | None = None,
    *,
    credentials: Credentials | None = None,
    scope: Scope = STACK_SCOPE,
) -> dict[str, str]:
    url = f"http://127.0.0.1:{gateway.port}{path}"
    headers = dict(JSON) if body else {}
    return {**headers, **sign(method, url, headers, body, credentials or local_credentials(), scope)}


@pytest.mark.parametrize("method, path", ROUTES)
def test_an_unsigned_request_is_refused_on_every_route(
    gateway: InferenceGateway, recorder: Recorder, method: str, path: str
) -> None:
    status, headers, body = send(gateway, method, path, BODY if method == "POST" else None, JSON)

    assert (status, body) == (403, {"message": "Forbidden"})
    assert headers["x-amzn-errortype"] == "ForbiddenException"
    assert recorder.events == []


@pytest.mark.parametrize("method, path", ROUTES)
def test_a_signed_request_reaches_the_function_with_its_caller(
    gateway: InferenceGateway, recorder: Recorder, method: str, path: str
) -> None:
    body = BODY if method == "POST" else None

    status, _, _ = send(gateway, method, path, body, signed(gateway, method, path, body))

    assert status == 200
    assert recorder.events[0]["requestContext"]["authorizer"]["iam"]["accessKey"] == "testing"
    assert recorder.events[0]["rawPath"] == path


def test_a_query_string_is_part_of_the_signature(gateway: InferenceGateway, recorder: Recorder) -> None:
    headers = signed(gateway, "GET", "/v2/models/iris?b=2&a=1")

    assert send(gateway, "GET", "/v2/models/iris?b=2&a=1", None, headers)[0] == 200
    assert send(gateway, "GET", "/v2/models/iris?b=2&a=3", None, headers)[0] == 403


@pytest.mark.parametrize(
    "change, error_type, message",
    [
        ("secret", "InvalidSignatureException", "The request signature we calculated does not match"),
        ("key", "UnrecognizedClientException", "The security token included in the request is invalid."),
        ("token", "UnrecognizedClientException", "The security token included in the request is invalid."),
        ("region", "InvalidSignatureException", "Credential should be scoped to a valid region"),
        ("service", "InvalidSignatureException", "Credential should be scoped to correct service: 'execute-api'."),
        ("body", "InvalidSignatureException", "The request signature we calculated does not match"),
        ("path", "InvalidSignatureException", "The request signature we calculated does not match"),
    ],
)
def test_a_wrong_signature_is_refused_as_api_gateway_refuses_it(
    gateway: InferenceGateway, recorder: Recorder, change: str, error_type: str, message: str
) -> None:
    credentials = {
        "secret": Credentials("testing", "not-the-secret"),
        "key": Credentials("someone-else", "testing"),
        "token": Credentials("testing", "testing", "a-session-token"),
    }.get(change)
    scope = {"region": Scope("execute-api", "eu-west-1"), "service": Scope("lambda", "us-east-1")}.get(
        change, Scope("execute-api", "us-east-1")
    )
    path = "/v2/models/iris/infer"
    headers = signed(gateway, "POST", path, BODY, credentials=credentials, scope=scope)
    body = BODY.replace(b"1.0", b"2.0") if change == "body" else BODY
    target = "/v2/models/other/infer" if change == "path" else path

    status, answered, payload = send(gateway, "POST", target, body, headers)

    assert status == 403
    assert answered["x-amzn-errortype"] == error_type
    assert payload["message"].startswith(message)
    assert recorder.events == []


def test_a_signature_older_than_five_minutes_has_expired(
    gateway: InferenceGateway, recorder: Recorder, clock: list[float]
) -> None:
    headers = signed(gateway, "GET", "/v2")
    assert send(gateway, "GET", "/v2", None, headers)[0] == 200

    clock[0] += 6 * 60

    status, _, payload = send(gateway, "GET", "/v2", None, headers)
    assert status == 403 and payload["message"].startswith("Signature expired")


@pytest.mark.parametrize("header", ["Bearer a.b.c", "AWS4-HMAC-SHA256 Credential=testing", "Basic dGVzdGluZw=="])
def test_an_authorization_header_that_is_not_sigv4_is_refused(gateway: InferenceGateway, header: str) -> None:
    status, headers, payload = send(gateway, "GET", "/v2", None, {"authorization": header})

    assert status == 403
    assert headers["x-amzn-errortype"] == "IncompleteSignatureException"
    assert payload["message"]


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
def test_curl_signed_as_the_readme_shows_is_admitted(gateway: InferenceGateway, recorder: Recorder) -> None:
    url = f"http://127.0.0.1:{gateway.port}/v2/models/iris/infer"
    sigv4 = ["--aws-sigv4", "aws:amz:us-east-1:execute-api", "--user", "testing:testing"]
    post = ["-H", "content-type: application/json", "--data-binary", BODY.decode(), url]

    good = subprocess.run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", *sigv4, *post], **CAPTURE)
    unsigned = subprocess.run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", *post], **CAPTURE)

    assert (good.stdout, unsigned.stdout) == ("200", "403")
    assert len(recorder.events) == 1


CAPTURE: Any = {"capture_output": True, "text": True, "timeout": 30, "check": True}


def test_the_setting_takes_the_words_of_api_authorization_type() -> None:
    assert authorization_type(None) == "AWS_IAM"
    assert authorization_type("none") == "NONE"
    with pytest.raises(ValueError, match="LOCAL_API_AUTHORIZATION must be AWS_IAM or NONE"):
        authorization_type("JWT")
