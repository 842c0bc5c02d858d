"""A Lambda function of the local stack: its handler runs in a process of its own, as on AWS.

Each function gets a worker process (started with ``spawn``, so it shares nothing with the stack's process but the
environment it is given) that imports the handler once and then answers one event at a time, like a Lambda
execution environment. The loader publishing a model never holds up a request to the inference function, and a
crash in one leaves the other running. A worker that dies or runs past its timeout is replaced on the next event,
as Lambda starts a new execution environment.
"""

from __future__ import annotations

import contextlib
import importlib
import multiprocessing
import signal
import threading
from collections.abc import Callable, Mapping
from multiprocessing.connection import Connection
from typing import Any

from local_stack.lambda_context import LocalLambdaContext

Handler = Callable[[dict[str, Any], Any], Any]
_START_TIMEOUT_SECONDS = 120.0
_STOP_TIMEOUT_SECONDS = 10.0


class FunctionError(RuntimeError):
    """The function's handler raised, its process died, or it ran past its timeout."""


class LocalFunction:
    """One Lambda function: a handler by its dotted path, the environment it runs with, its memory and timeout."""

    def __init__(
        self,
        name: str,
        handler_path: str,
        environment: Mapping[str, str],
        *,
        region: str = "us-east-1",
        memory_mb: int = 10240,
        timeout_seconds: float = 30.0,
    ) -> None:
        self.name = name
        self.handler_path = handler_path
        self._environment = {
            **environment,
            "AWS_LAMBDA_FUNCTION_NAME": name,
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(memory_mb),
            "AWS_REGION": region,
        }
        self._region = region
        self._memory_mb = memory_mb
        self._timeout_seconds = timeout_seconds
        self._lock = threading.Lock()  # one event at a time, as in one execution environment
        self._process: multiprocessing.process.BaseProcess | None = None
        self._connection: Connection | None = None

    @property
    def pid(self) -> int | None:
        process = self._process
        return process.pid if process is not None and process.is_alive() else None

    def start(self) -> None:
        """Start the worker and wait until it has imported the handler; FunctionError when it cannot."""
        with self._lock:
            self._ensure_started()

    def invoke(self, event: dict[str, Any]) -> Any:
        with self._lock:
            connection = self._ensure_started()
            try:
                connection.send(event)
                if not connection.poll(self._timeout_seconds):
                    self._discard()
                    raise FunctionError(f"{self.name}: task timed out after {self._timeout_seconds:.0f} s")
                outcome, value = connection.recv()
            except (EOFError, OSError):
                code = self._discard()
                raise FunctionError(f"{self.name}: its process exited with {code} while handling the event") from None
        if outcome == "error":
            raise FunctionError(f"{self.name}: {value}")
        return value

    def stop(self) -> None:
        with self._lock:
            if self._connection is not None:
                with contextlib.suppress(OSError):
                    self._connection.send(None)
            if self._process is not None:
                self._process.join(_STOP_TIMEOUT_SECONDS)
            self._discard()

    def _ensure_started(self) -> Connection:
        if self._process is not None and self._process.is_alive() and self._connection is not None:
            return self._connection
        self._discard()
        context = multiprocessing.get_context("spawn")
        parent, child = context.Pipe()
        settings = (self.name, self._region, self._memory_mb, self._timeout_seconds)
        process = context.Process(
            target=_serve,
            args=(self.handler_path, self._environment, settings, child),
            name=f"lambda-{self.name}",
            daemon=True,
        )
        process.start()
        child.close()
        self._process, self._connection = process, parent
        if not parent.poll(_START_TIMEOUT_SECONDS):
            self._discard()
            raise FunctionError(f"{self.name}: the handler did not import within {_START_TIMEOUT_SECONDS:.0f} s")
        try:
            outcome, value = parent.recv()
        except EOFError:
            code = self._discard()
            raise FunctionError(f"{self.name}: its process exited with {code} at start-up") from None
        if outcome == "error":
            self._discard()
            raise FunctionError(f"{self.name}: cannot load {self.handler_path}: {value}")
        return parent

    def _discard(self) -> int | None:
        """Forget the worker, killing it if it is still running; its exit code."""
        process, connection = self._process, self._connection
        self._process = self._connection = None
        if connection is not None:
            connection.close()
        if process is None:
            return None
        if process.is_alive():
            process.kill()
        process.join(_STOP_TIMEOUT_SECONDS)
        return process.exitcode


def _serve(
    handler_path: str, environment: dict[str, str], settings: tuple[str, str, int, float], connection: Connection
) -> None:
    """The worker: the function's environment, its handler imported once, then one event at a time until None."""
    import os

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C stops the stack, which stops its functions
    os.environ.clear()
    os.environ.update(environment)
    try:
        handler = _load(handler_path)
    except Exception as error:
        connection.send(("error", f"{type(error).__name__}: {error}"))
        return
    connection.send(("ready", None))
    name, region, memory_mb, timeout_seconds = settings
    while True:
        try:
            event = connection.recv()
        except EOFError:
            return
        if event is None:
            return
        context = LocalLambdaContext(
            function_name=name, region=region, memory_limit_in_mb=memory_mb, timeout_seconds=timeout_seconds
        )
        try:
            connection.send(("ok", handler(event, context)))
        except Exception as error:  # as Lambda reports a handler's exception to its caller
            connection.send(("error", f"{type(error).__name__}: {error}"))


def _load(handler_path: str) -> Handler:
    module_name, _, attribute = handler_path.rpartition(".")
    if not module_name:
        raise ValueError(f"handler must be module.function, got {handler_path!r}")
    handler = getattr(importlib.import_module(module_name), attribute)
    if not callable(handler):
        raise TypeError(f"{handler_path} is not callable")
    return handler  # type: ignore[no-any-return]
