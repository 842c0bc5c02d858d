"""Calling a Lambda handler by its dotted path, the way the Lambda runtime would."""

from __future__ import annotations

import importlib
import threading
from collections.abc import Callable
from typing import Any

from local_stack.lambda_context import LocalLambdaContext

Handler = Callable[[dict[str, Any], Any], Any]


class LocalFunction:
    """One Lambda function: its handler is imported on first use, after the stack has set the environment.

    Calls are serialised through a lock shared by all functions of the stack. A Lambda execution environment serves
    one event at a time, and the handlers keep process-wide state (resolver, metrics) that assumes exactly that.
    """

    def __init__(
        self,
        name: str,
        handler_path: str,
        lock: threading.Lock,
        *,
        region: str = "us-east-1",
        memory_mb: int = 10240,
        timeout_seconds: float = 30.0,
    ) -> None:
        self.name = name
        self.handler_path = handler_path
        self._lock = lock
        self._region = region
        self._memory_mb = memory_mb
        self._timeout_seconds = timeout_seconds
        self._handler: Handler | None = None

    def load(self) -> Handler:
        if self._handler is None:
            module_name, _, attribute = self.handler_path.rpartition(".")
            if not module_name:
                raise ValueError(f"handler must be module.function, got {self.handler_path!r}")
            handler = getattr(importlib.import_module(module_name), attribute)
            if not callable(handler):
                raise TypeError(f"{self.handler_path} is not callable")
            self._handler = handler
        return self._handler

    def invoke(self, event: dict[str, Any]) -> Any:
        handler = self.load()
        context = LocalLambdaContext(
            function_name=self.name,
            region=self._region,
            memory_limit_in_mb=self._memory_mb,
            timeout_seconds=self._timeout_seconds,
        )
        with self._lock:
            return handler(event, context)
