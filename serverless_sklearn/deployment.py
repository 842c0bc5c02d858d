"""Where a deployment is and how to talk to it: its bucket (S3) and its inference URL (HTTP).

Found from flags, then the environment (``SERVERLESS_SKLEARN_BUCKET``, ``SERVERLESS_SKLEARN_URL``, which
``make serve`` prints), then ``terraform output -json`` in the current directory. S3 calls go wherever boto3 is
configured to send them (``AWS_ENDPOINT_URL`` for the local stack). API calls are SigV4-signed with boto3's
credentials, or carry the JWT given with ``--token``.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import click
import requests
from botocore.credentials import Credentials
from botocore.exceptions import BotoCoreError

from serverless_sklearn.signing import Scope, sign

HTTP_TIMEOUT_SECONDS = 30.0


class DeploymentError(click.ClickException):
    """Something about the deployment the user has to fix; shown as one line."""


@dataclass(frozen=True)
class Deployment:
    bucket: str
    url: str
    prefix: str = ""

    @classmethod
    def find(cls, bucket: str | None, url: str | None, prefix: str | None) -> Deployment:
        if not (bucket and url):
            outputs = _terraform_outputs()
            bucket = bucket or outputs.get("bucket_name")
            url = url or outputs.get("inference_url")
            prefix = prefix if prefix is not None else outputs.get("model_prefix")
        if not bucket or not url:
            raise DeploymentError(
                "no deployment found: pass --bucket and --url, export SERVERLESS_SKLEARN_BUCKET and "
                "SERVERLESS_SKLEARN_URL (make serve prints them), or run in the Terraform root after apply"
            )
        normalised = (prefix or "").strip("/")
        return cls(bucket=bucket, url=url.rstrip("/"), prefix=f"{normalised}/" if normalised else "")


def _terraform_outputs() -> dict[str, str]:
    if shutil.which("terraform") is None or not Path(".terraform").is_dir():
        return {}
    try:
        completed = subprocess.run(
            ["terraform", "output", "-json"], capture_output=True, text=True, timeout=60, check=True
        )
        outputs: Any = json.loads(completed.stdout)
    except (OSError, subprocess.SubprocessError, ValueError):
        return {}
    if not isinstance(outputs, dict):
        return {}
    found = {}
    for name, output in outputs.items():
        value = output.get("value") if isinstance(output, dict) else None
        if isinstance(value, str):
            found[name] = value
    return found


class SigV4Auth(requests.auth.AuthBase):
    """Signs each request with boto3's usual credentials (environment, profile, SSO, role), for the API's service."""

    def __init__(self, credentials: Credentials, scope: Scope) -> None:
        self._credentials = credentials
        self._scope = scope

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        body = request.body.encode() if isinstance(request.body, str) else request.body
        if body is not None and not isinstance(body, bytes):
            raise TypeError("a signed request needs its body in memory")
        headers = {name: str(value) for name, value in request.headers.items()}
        method, url = str(request.method), str(request.url)
        request.headers.update(sign(method, url, headers, body, self._credentials, self._scope))
        return request

    def curl_options(self) -> str:
        """How curl signs the same way, with the credentials left in the shell's variables."""
        options = f'--aws-sigv4 "aws:amz:{self._scope.region}:{self._scope.service}" '
        options += '--user "$AWS_ACCESS_KEY_ID:$AWS_SECRET_ACCESS_KEY"'
        if self._credentials.token:
            options += ' -H "x-amz-security-token: $AWS_SESSION_TOKEN"'
        return options


class BearerAuth(requests.auth.AuthBase):
    """A JWT for an API with api_authorization_type JWT."""

    def __init__(self, token: str) -> None:
        self._token = token

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers["Authorization"] = f"Bearer {self._token}"
        return request

    def curl_options(self) -> str:
        return '-H "Authorization: Bearer $SERVERLESS_SKLEARN_TOKEN"'


def api_auth(url: str, token: str | None) -> SigV4Auth | BearerAuth | None:
    """The token when one is given, else a SigV4 signature when boto3 finds credentials, else nothing (an open API)."""
    if token:
        return BearerAuth(token)
    session = boto3.Session()
    try:
        found = session.get_credentials()
    except BotoCoreError:
        found = None
    if found is None:
        return None
    frozen = found.get_frozen_credentials()
    credentials = Credentials(frozen.access_key, frozen.secret_key, frozen.token)
    return SigV4Auth(credentials, Scope.of(url, session.region_name))


FORBIDDEN_HINT = (
    "the API refused the caller (403): an AWS_IAM API needs credentials allowed execute-api:Invoke on it "
    "(terraform output inference_invoke_policy), a JWT API a token (--token or SERVERLESS_SKLEARN_TOKEN)"
)


class Api:
    """The inference API of a deployment, answering parsed JSON with its status; requests carry ``auth``."""

    def __init__(self, url: str, auth: SigV4Auth | BearerAuth | None = None) -> None:
        self.url = url
        self._session = requests.Session()
        self._session.auth = auth
        self.curl_options = auth.curl_options() if auth is not None else ""

    def call(self, method: str, path: str, **options: Any) -> tuple[int, Any]:
        try:
            response = self._session.request(method, f"{self.url}{path}", timeout=HTTP_TIMEOUT_SECONDS, **options)
        except requests.RequestException as error:
            raise DeploymentError(f"the inference URL {self.url} does not answer: {type(error).__name__}") from None
        try:
            body = response.json()
        except ValueError:
            body = {"error": response.text[:300]}
        if response.status_code == 403 and isinstance(body, dict) and "message" in body and "error" not in body:
            # API Gateway's own refusal ({"message": ...}); the function's errors are {"error": ...}.
            raise DeploymentError(f"{FORBIDDEN_HINT}; it said: {body['message']}")
        return response.status_code, body

    def ok(self, method: str, path: str, **options: Any) -> Any:
        status, body = self.call(method, path, **options)
        if status != 200:
            raise DeploymentError(f"{method} {path} answered {status}: {error_text(body)}")
        return body


def error_text(body: Any) -> str:
    return str(body.get("error", body)) if isinstance(body, dict) else str(body)


def s3_client() -> Any:
    return boto3.client("s3")
