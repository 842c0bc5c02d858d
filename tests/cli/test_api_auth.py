"""How the command authenticates to the API: a JWT when given, else a SigV4 signature from boto3's credentials for
the service and region the URL names, else nothing; checked against the local gateway's own authorizer."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from local_stack.authorization import IamAuthorizer
from local_stack.stack import local_credentials
from serverless_sklearn.deployment import Api, BearerAuth, DeploymentError, SigV4Auth, api_auth
from serverless_sklearn.signing import Scope
from tests.support.gateway import Recorder, running_gateway


def serve(authorizer: IamAuthorizer | None, recorder: Recorder | None = None) -> Iterator[tuple[str, Recorder]]:
    recorder = recorder or Recorder()
    with running_gateway(recorder, authorizer) as server:
        yield f"http://127.0.0.1:{server.port}", recorder


@pytest.fixture
def iam_gateway() -> Iterator[tuple[str, Recorder]]:
    yield from serve(IamAuthorizer(local_credentials(), "us-east-1"))


@pytest.fixture
def open_gateway() -> Iterator[tuple[str, Recorder]]:
    yield from serve(None)


@pytest.fixture
def stack_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")


@pytest.mark.usefixtures("stack_credentials")
def test_requests_are_signed_with_boto3s_credentials(iam_gateway: tuple[str, Recorder]) -> None:
    url, echo = iam_gateway
    api = Api(url, api_auth(url, None))

    assert api.call("POST", "/v2/models/iris/infer", json={"inputs": []})[0] == 200
    assert api.call("GET", "/v2/models/iris/ready")[0] == 200
    assert echo.events[0]["requestContext"]["authorizer"]["iam"]["accessKey"] == "testing"
    assert '--aws-sigv4 "aws:amz:us-east-1:execute-api"' in api.curl_options


def test_a_token_is_sent_as_a_bearer_and_replaces_the_signature(open_gateway: tuple[str, Recorder]) -> None:
    url, echo = open_gateway
    api = Api(url, api_auth(url, "header.payload.signature"))

    assert api.call("GET", "/v2")[0] == 200
    assert echo.events[0]["headers"]["authorization"] == "Bearer header.payload.signature"
    assert "$SERVERLESS_SKLEARN_TOKEN" in api.curl_options


def test_an_unsigned_call_to_an_iam_api_is_one_line_saying_what_to_do(iam_gateway: tuple[str, Recorder]) -> None:
    url, echo = iam_gateway

    with pytest.raises(DeploymentError, match=r"refused the caller \(403\).*--token") as refused:
        Api(url, None).call("GET", "/v2")

    assert "\n" not in str(refused.value.message)
    assert echo.events == []


def test_the_functions_own_403_is_an_answer_not_a_refusal() -> None:
    forbidding = Recorder()
    forbidding.answer = {"statusCode": 403, "body": '{"error": "model x is not yours"}'}
    for url, _ in serve(None, forbidding):
        assert Api(url, None).call("GET", "/v2") == (403, {"error": "model x is not yours"})


@pytest.mark.parametrize(
    "url, service, region",
    [
        ("https://a1b2c3d4e5.execute-api.eu-west-3.amazonaws.com", "execute-api", "eu-west-3"),
        ("https://r1s2t3u4v5.execute-api.us-gov-west-1.amazonaws.com/live", "execute-api", "us-gov-west-1"),
        ("https://abcdefghij.lambda-url.ap-southeast-2.on.aws", "lambda", "ap-southeast-2"),
        ("http://127.0.0.1:8080", "execute-api", "us-east-1"),
        ("https://models.example.com", "execute-api", "us-east-1"),
    ],
)
def test_the_url_names_the_service_and_region_signed_for(url: str, service: str, region: str) -> None:
    assert Scope.of(url, "us-east-1") == Scope(service, region)


def test_without_credentials_nothing_is_signed(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")

    assert api_auth("http://127.0.0.1:8080", None) is None
    assert isinstance(api_auth("http://127.0.0.1:8080", "t"), BearerAuth)
    assert not isinstance(api_auth("http://127.0.0.1:8080", "t"), SigV4Auth)
