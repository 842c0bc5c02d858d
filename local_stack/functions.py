"""A Lambda function of the local stack: its handler runs in a process of its own, as on AWS.

Each function gets a worker process (started with ``spawn``, so it shares nothing with the stack's process but the
environment it is given) that imports the handler once and then answers one event at a time, like a Lambda
execution environment. The loader publishing a model never holds up a request to the inference function, and a
crash in one leaves the other running. A worker that dies or runs past its timeout is replaced on the next event,
as Lambda starts a new execution environment.

A function given a ``log_sink`` has its standard output read line by line by the stack, as Lambda sends a
function's output to its log stream: the capture path's subscription filter reads the inference function's lines.

A ``FunctionPool`` scales a function out as Lambda does: up to its concurrency of environments, each answering one
event at a time, a new one started (a cold start) when an event finds every other busy, and all kept warm.

Stopping never waits on a busy handler for longer than its grace: the event in hand may finish within it, and then
the worker is killed, and the event's caller gets a FunctionError, as a Lambda environment shut down mid-event.
"""

from __future__ import annotations

import contextlib
import functools
import importlib
import multiprocessing
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Mapping
from multiprocessing.connection import Connection
from typing import Any

from local_stack.lambda_context import LocalLambdaContext

Handler = Callable[[dict[str, Any], Any], Any]
_START_TIMEOUT_SECONDS = 120.0
_STOP_TIMEOUT_SECONDS = 10.0  # for a killed worker to be reaped
STOP_GRACE_SECONDS = 5.0  # for the event in hand to finish, and then the worker to exit, when a function stops


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
        log_sink: Callable[[bytes], None] | None = None,
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
        self._log_sink = log_sink
        self._log_readers: list[threading.Thread] = []
        self._stopped = False

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
            if self._stopped:
                raise FunctionError(f"{self.name}: the function has stopped")
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

    def stop(self, grace: float = STOP_GRACE_SECONDS) -> None:
        """End the worker: the event in hand may finish, and the worker exit, within ``grace`` seconds; then it is
        killed. Later events are refused. Returns within about ``grace`` seconds, whatever the handler does."""
        deadline = time.monotonic() + grace
        self._stopped = True
        if not self._lock.acquire(timeout=grace):  # busy past the grace: end the event with its process
            process = self._process
            if process is not None:
                with contextlib.suppress(OSError, ValueError):
                    process.kill()
            if not self._lock.acquire(timeout=_STOP_TIMEOUT_SECONDS):
                return
        try:
            if self._connection is not None and self._process is not None:
                with contextlib.suppress(OSError):
                    self._connection.send(None)
                self._process.join(max(0.0, deadline - time.monotonic()))
            self._discard()
            for reader in self._log_readers:  # each ends once its process's output is closed and read
                reader.join(max(0.1, deadline - time.monotonic()))
            self._log_readers = []
        finally:
            self._lock.release()

    def _ensure_started(self) -> Connection:
        if self._process is not None and self._process.is_alive() and self._connection is not None:
            return self._connection
        self._discard()
        context = multiprocessing.get_context("spawn")
        parent, child = context.Pipe()
        log_reader, log_writer = context.Pipe(duplex=False) if self._log_sink is not None else (None, None)
        settings = (self.name, self._region, self._memory_mb, self._timeout_seconds)
        process = context.Process(
            target=_serve,
            args=(self.handler_path, self._environment, settings, child, log_writer),
            name=f"lambda-{self.name}",
            daemon=True,
        )
        process.start()
        child.close()
        if log_reader is not None and log_writer is not None and self._log_sink is not None:
            log_writer.close()
            reader = threading.Thread(
                target=_read_lines, args=(log_reader, self._log_sink), name=f"{self.name}-log", daemon=True
            )
            reader.start()
            self._log_readers = [r for r in self._log_readers if r.is_alive()] + [reader]
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


class FunctionPool:
    """Up to ``concurrency`` environments of one function (``LocalFunction`` each), as Lambda scales a function
    out: an event goes to the environment that was free last (the warmest), or, when every one is busy and there is
    room, to a new one, started for it; otherwise it waits for one to be free. Environments stay warm until stop."""

    def __init__(
        self, name: str, handler_path: str, environment: Mapping[str, str], *, concurrency: int, **options: Any
    ) -> None:
        if concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        self.name = name
        self.concurrency = concurrency
        self._new: Callable[[], LocalFunction] = functools.partial(
            LocalFunction, name, handler_path, environment, **options
        )
        self._environments: list[LocalFunction] = []
        self._idle: list[LocalFunction] = []
        self._changed = threading.Condition()
        self._stopped = False

    @property
    def pid(self) -> int | None:
        """The first environment's process id (the one started with the stack)."""
        return self._environments[0].pid if self._environments else None

    @property
    def started(self) -> int:
        """Environments started so far."""
        return len(self._environments)

    def start(self) -> None:
        """Start the first environment, so that a handler that cannot load stops the stack at start-up."""
        first = self._take()
        try:
            first.start()
        finally:
            self._give_back(first)

    def invoke(self, event: dict[str, Any]) -> Any:
        environment = self._take()
        try:
            return environment.invoke(event)
        finally:
            self._give_back(environment)

    def stop(self, grace: float = STOP_GRACE_SECONDS) -> None:
        """Refuse new events, wake those waiting, and stop every environment at once, each within ``grace``."""
        with self._changed:
            self._stopped = True
            self._changed.notify_all()
            environments = list(self._environments)
        stopping = [threading.Thread(target=e.stop, args=(grace,), name=f"{self.name}-stop") for e in environments]
        for thread in stopping:
            thread.start()
        for thread in stopping:
            thread.join()

    def _take(self) -> LocalFunction:
        with self._changed:
            while True:
                if self._stopped:
                    raise FunctionError(f"{self.name}: the function has stopped")
                if self._idle:
                    return self._idle.pop()
                if len(self._environments) < self.concurrency:
                    environment = self._new()
                    self._environments.append(environment)
                    return environment
                self._changed.wait()

    def _give_back(self, environment: LocalFunction) -> None:
        with self._changed:
            self._idle.append(environment)
            self._changed.notify()


def _read_lines(reader: Connection, sink: Callable[[bytes], None]) -> None:
    """Hand each line a worker writes to its standard output to ``sink``, until the worker's end is closed."""
    pending = b""
    try:
        while chunk := os.read(reader.fileno(), 1 << 16):
            pending += chunk
            *lines, pending = pending.split(b"\n")
            for line in lines:
                sink(line)
        if pending:
            sink(pending)
    except OSError:
        return
    finally:
        reader.close()


def _serve(
    handler_path: str,
    environment: dict[str, str],
    settings: tuple[str, str, int, float],
    connection: Connection,
    log_writer: Connection | None = None,
) -> None:
    """The worker: the function's environment, its handler imported once, then one event at a time until None."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C stops the stack, which stops its functions
    if log_writer is not None:  # standard output becomes the function's log stream, read by the stack
        sys.stdout.flush()
        os.dup2(log_writer.fileno(), 1)
        log_writer.close()
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
