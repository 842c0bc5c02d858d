"""The SHA-256 an upload declares (its full-object S3 checksum, or ``sha256`` user metadata), checked against the
bytes read."""

from __future__ import annotations

import base64
import binascii
import hashlib
from typing import Any

from lambdas.loader.errors import ChecksumMismatch, PermanentFailure


def verify_declared_sha256(response: dict[str, Any], digest: bytes) -> str | None:
    """Where the object's declared SHA-256 came from, once it matched the bytes read; None when it declares none."""
    declared = _declared_sha256(response)
    if declared is None:
        return None
    source, expected = declared
    if expected != digest:
        raise ChecksumMismatch(f"SHA-256 from {source} is {expected.hex()}, the bytes read hash to {digest.hex()}")
    return source


def _declared_sha256(response: dict[str, Any]) -> tuple[str, bytes] | None:
    """The SHA-256 the object declares: its full-object S3 checksum, else its ``sha256`` user metadata."""
    checksum = response.get("ChecksumSHA256")
    # A multipart upload's composite checksum ("...-<parts>") is a hash of part hashes: not comparable.
    if isinstance(checksum, str) and "-" not in checksum and response.get("ChecksumType") != "COMPOSITE":
        try:
            raw = base64.b64decode(checksum, validate=True)
        except binascii.Error:
            raw = b""
        if len(raw) == hashlib.sha256().digest_size:
            return "ChecksumSHA256", raw
    declared = (response.get("Metadata") or {}).get("sha256")
    if not isinstance(declared, str) or not declared.strip():
        return None
    return "sha256 metadata", _parse_digest(declared.strip())


def _parse_digest(text: str) -> bytes:
    try:
        raw = bytes.fromhex(text) if len(text) == 64 else base64.b64decode(text, validate=True)
    except ValueError:
        raw = b""
    if len(raw) != hashlib.sha256().digest_size:
        raise PermanentFailure(f"sha256 metadata {text[:80]!r} is neither a hex nor a base64 SHA-256 digest")
    return raw
