"""The local gateway's IAM authorization: SigV4 signatures checked as API Gateway checks them.

``LOCAL_API_AUTHORIZATION`` takes the words of Terraform's ``api_authorization_type``: ``AWS_IAM`` (the default)
admits only requests signed for ``execute-api`` in the stack's region with the stack's credentials; ``NONE`` admits
every request. A refusal is a 403 with API Gateway's JSON body and ``x-amzn-errortype`` header. The signature is
recomputed with botocore's signer over the headers the request says it signed.
"""

from __future__ import annotations

import hmac
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest, HTTPHeaders
from botocore.credentials import Credentials

AUTHORIZATION_TYPES = ("AWS_IAM", "NONE")
SERVICE = "execute-api"
ACCOUNT_ID = "123456789012"
# How far a request's X-Amz-Date may be from the gateway's clock, as AWS allows.
MAX_SKEW_SECONDS = 5 * 60
_ALGORITHM = "AWS4-HMAC-SHA256"
_DATE_FORMAT = "%Y%m%dT%H%M%SZ"
_MISMATCH = (
    "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access "
    "Key and signing method. Consult the service documentation for details."
)


def authorization_type(value: str | None) -> str:
    """``LOCAL_API_AUTHORIZATION`` checked: AWS_IAM when unset."""
    chosen = (value or "AWS_IAM").strip().upper()
    if chosen not in AUTHORIZATION_TYPES:
        raise ValueError(f"LOCAL_API_AUTHORIZATION must be AWS_IAM or NONE, not {value!r}")
    return chosen


@dataclass(frozen=True)
class Refusal:
    """A request API Gateway would not pass to the function."""

    error_type: str
    message: str
    status: int = 403


class _Recomputed(SigV4Auth):  # type: ignore[misc]  # botocore has no type hints
    """botocore's signer over exactly the headers a request names in ``SignedHeaders``."""

    def __init__(self, credentials: Credentials, region: str, signed: list[str]) -> None:
        super().__init__(credentials, SERVICE, region)
        self._signed = signed

    def headers_to_sign(self, request: AWSRequest) -> HTTPHeaders:
        chosen = HTTPHeaders()
        for name in self._signed:
            for value in request.headers.get_all(name) or []:
                chosen[name] = value
        return chosen


@dataclass(frozen=True)
class _Authorization:
    access_key: str
    date: str
    region: str
    service: str
    signed_headers: list[str]
    signature: str


def _parse(header: str) -> _Authorization | Refusal:
    algorithm, _, rest = header.strip().partition(" ")
    if algorithm != _ALGORITHM:
        return Refusal("IncompleteSignatureException", f"Authorization header requires the {_ALGORITHM} algorithm.")
    fields: dict[str, str] = {}
    for part in rest.split(","):
        key, _, value = part.strip().partition("=")
        fields[key] = value
    missing = [name for name in ("Credential", "SignedHeaders", "Signature") if not fields.get(name)]
    if missing:
        wanted = " ".join(f"Authorization header requires '{name}' parameter." for name in missing)
        return Refusal("IncompleteSignatureException", f"{wanted} Authorization={header[:200]}")
    scope = fields["Credential"].split("/")
    if len(scope) != 5 or scope[4] != "aws4_request":
        return Refusal("IncompleteSignatureException", "Credential must be KEY/DATE/REGION/SERVICE/aws4_request.")
    return _Authorization(
        access_key=scope[0],
        date=scope[1],
        region=scope[2],
        service=scope[3],
        signed_headers=fields["SignedHeaders"].lower().split(";"),
        signature=fields["Signature"],
    )


class IamAuthorizer:
    """Admits a request signed with these credentials for ``execute-api`` in this region, and says who sent it."""

    def __init__(
        self,
        credentials: Credentials,
        region: str,
        *,
        account_id: str = ACCOUNT_ID,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._credentials = credentials
        self._region = region
        self._account_id = account_id
        self._clock = clock

    def identity(self) -> dict[str, Any]:
        """``requestContext.authorizer.iam`` of an admitted request, as an HTTP API sends it."""
        return {
            "accessKey": self._credentials.access_key,
            "accountId": self._account_id,
            "callerId": self._credentials.access_key,
            "principalOrgId": None,
            "userArn": f"arn:aws:iam::{self._account_id}:user/local",
            "userId": self._credentials.access_key,
        }

    def check(self, method: str, target: str, headers: Mapping[str, str], body: bytes) -> Refusal | None:
        """None when the request is signed with the stack's credentials, else why API Gateway would refuse it.

        ``headers`` are the request's, looked up by lower-case name (repeated ones joined by commas)."""
        header = headers.get("authorization")
        if not header:
            return Refusal("ForbiddenException", "Forbidden")
        parsed = _parse(header)
        if isinstance(parsed, Refusal):
            return parsed
        if parsed.access_key != self._credentials.access_key:
            return Refusal("UnrecognizedClientException", "The security token included in the request is invalid.")
        if (headers.get("x-amz-security-token") or None) != self._credentials.token:
            return Refusal("UnrecognizedClientException", "The security token included in the request is invalid.")
        if parsed.service != SERVICE:
            return Refusal("InvalidSignatureException", f"Credential should be scoped to correct service: '{SERVICE}'.")
        if parsed.region != self._region:
            return Refusal(
                "InvalidSignatureException",
                f"Credential should be scoped to a valid region, not '{parsed.region}'. Use '{self._region}'.",
            )
        return self._check_time(headers.get("x-amz-date"), parsed) or self._check_signature(
            method, target, headers, body, parsed
        )

    def _check_time(self, stamp: str | None, parsed: _Authorization) -> Refusal | None:
        if not stamp or "host" not in parsed.signed_headers or "x-amz-date" not in parsed.signed_headers:
            return Refusal("IncompleteSignatureException", "The request must sign the host and x-amz-date headers.")
        try:
            signed_at = datetime.strptime(stamp, _DATE_FORMAT).replace(tzinfo=UTC).timestamp()
        except ValueError:
            return Refusal("IncompleteSignatureException", f"X-Amz-Date must be YYYYMMDDTHHMMSSZ, not {stamp[:40]!r}.")
        now = self._clock()
        if abs(now - signed_at) > MAX_SKEW_SECONDS:
            at = datetime.fromtimestamp(now, UTC).strftime(_DATE_FORMAT)
            return Refusal("InvalidSignatureException", f"Signature expired: {stamp} is not within 5 min of {at}.")
        if not stamp.startswith(parsed.date):
            return Refusal("InvalidSignatureException", "The credential's date is not the date of X-Amz-Date.")
        return None

    def _check_signature(
        self, method: str, target: str, headers: Mapping[str, str], body: bytes, parsed: _Authorization
    ) -> Refusal | None:
        missing = [name for name in parsed.signed_headers if headers.get(name) is None]
        if missing:
            return Refusal("IncompleteSignatureException", f"Signed headers are missing: {', '.join(missing)}.")
        request = AWSRequest(
            method=method,
            url=f"http://{headers.get('host')}{target}",
            data=body,
            headers={name: str(headers.get(name)) for name in parsed.signed_headers},
        )
        request.context["timestamp"] = headers.get("x-amz-date")
        signer = _Recomputed(self._credentials, self._region, parsed.signed_headers)
        expected = signer.signature(signer.string_to_sign(request, signer.canonical_request(request)), request)
        if not hmac.compare_digest(expected, parsed.signature):
            return Refusal("InvalidSignatureException", _MISMATCH)
        return None
