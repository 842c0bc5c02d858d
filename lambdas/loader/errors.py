"""What can go wrong with one record, split by whether a retry could help."""

from __future__ import annotations


class PermanentFailure(Exception):
    """The object itself cannot become a model (corrupt, wrong format, checksum mismatch); a retry cannot help."""

    sha256: str | None = None  # of the refused bytes, once they were read


class ModelInvalid(PermanentFailure):
    """The file does not load as a usable estimator."""


class AnswersDiffer(PermanentFailure):
    """The model does not give the answers its sample says it gave where it was trained."""


class ChecksumMismatch(PermanentFailure):
    """The bytes read differ from the SHA-256 the object declares."""


class Superseded(Exception):
    """The event no longer describes the object in S3 (overwritten or deleted since); a later event covers it."""


class ObjectGone(Superseded):
    """The object (or the version the event names) no longer exists in S3."""


class TransientFailure(Exception):
    """S3, the network or the file system failed; a later attempt may succeed, so the event must be retried.

    A full disk (ENOSPC) counts here too: once retries are exhausted the event waits in the failure queue, from
    where it can be replayed after space is freed, instead of being dropped."""
