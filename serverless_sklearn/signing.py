"""SigV4 signatures for calls to a deployment's API, made with botocore's signer.

An API Gateway URL (``*.execute-api.REGION.amazonaws.com``) is signed for the service ``execute-api`` and a function
URL (``*.lambda-url.REGION.on.aws``) for ``lambda``, each in the region its host names; any other URL (the local
stack's, a custom domain) for ``execute-api`` in the region boto3 is configured with.

Only ``host``, ``x-amz-date``, the session token and ``content-type`` are signed: headers that proxies and HTTP
libraries add or rewrite on the way (``connection``, ``accept-encoding``, ``user-agent``) stay out of the signature.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

DEFAULT_REGION = "us-east-1"
_AWS_HOST = re.compile(r"[^.]+\.(execute-api|lambda-url)\.([a-z]{2}(?:-[a-z]+)+-\d+)\.(?:amazonaws\.com|on\.aws)")
SIGNED_REQUEST_HEADERS = ("content-type",)


@dataclass(frozen=True)
class Scope:
    """The service and region a URL's requests are signed for."""

    service: str
    region: str

    @classmethod
    def of(cls, url: str, default_region: str | None) -> Scope:
        host = (urlsplit(url).hostname or "").lower()
        found = _AWS_HOST.fullmatch(host)
        if found:
            return cls("lambda" if found[1] == "lambda-url" else "execute-api", found[2])
        return cls("execute-api", default_region or DEFAULT_REGION)


def sign(
    method: str, url: str, headers: Mapping[str, str], body: bytes | None, credentials: Credentials, scope: Scope
) -> dict[str, str]:
    """The headers that sign this request: ``Authorization``, ``X-Amz-Date`` and, with temporary credentials,
    ``X-Amz-Security-Token``."""
    kept = {name: value for name, value in headers.items() if name.lower() in SIGNED_REQUEST_HEADERS}
    request = AWSRequest(method=method.upper(), url=url, data=body or b"", headers=kept)
    SigV4Auth(credentials, scope.service, scope.region).add_auth(request)
    return {
        name: value
        for name, value in request.headers.items()
        if name.lower() in ("authorization", "x-amz-date", "x-amz-security-token")
    }
