"""Domain errors of the inference function. Each carries the HTTP status it maps to; routes.py turns them into
responses in one place."""

from __future__ import annotations


class InferenceError(Exception):
    """A request that cannot be answered; the message is safe to show to the caller."""

    status_code = 500

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class BadRequest(InferenceError):
    status_code = 400


class ModelNotFound(InferenceError):
    status_code = 404

    def __init__(self, name: str, version: int | str | None = None) -> None:
        what = f"model {name!r}" if version is None else f"model {name!r} version {version}"
        super().__init__(f"{what} not found")


class MethodNotAllowed(InferenceError):
    status_code = 405

    def __init__(self, method: str, path: str, allowed: tuple[str, ...]) -> None:
        super().__init__(f"method {method} not allowed on {path}; use {', '.join(allowed)}")
        self.allowed = allowed


class PayloadTooLarge(InferenceError):
    status_code = 413


class UnsupportedMediaType(InferenceError):
    status_code = 415


class ModelUnavailable(InferenceError):
    """The model exists in the repository but cannot be loaded."""

    status_code = 503
