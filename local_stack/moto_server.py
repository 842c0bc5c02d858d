"""A moto server in a child process on a free loopback port, for tests, the image proof and the benchmarks."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

HOST = "127.0.0.1"
FAKE_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}
_ATTEMPTS = 3


class MotoServerError(RuntimeError):
    """The server did not start; the message names its log when there is one."""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((HOST, 0))
        return int(probe.getsockname()[1])


@contextmanager
def moto_server(
    env: Mapping[str, str] | None = None,
    log_path: Path | None = None,
    start_timeout: float = 60.0,
    module: str = "moto.server",
) -> Iterator[str]:
    """Yield the endpoint of a running ``python -m moto.server`` (or ``module``, which runs it); stop it on exit.

    ``env`` is added to this process's environment with fake credentials. A port taken by another process between
    choosing and binding it is retried on a new one.
    """
    environment = {**os.environ, **FAKE_CREDENTIALS, **(env or {})}
    for _attempt in range(_ATTEMPTS):
        port = free_port()
        endpoint = f"http://{HOST}:{port}"
        log = log_path.open("ab") if log_path is not None else None
        server = subprocess.Popen(
            [sys.executable, "-m", module, "-H", HOST, "-p", str(port)],
            stdout=log if log is not None else subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
            env=environment,
        )
        try:
            if _wait_until_serving(server, endpoint, start_timeout):
                yield endpoint
                return
        finally:
            _stop(server)
            if log is not None:
                log.close()
    where = f"; see {log_path}" if log_path is not None else ""
    raise MotoServerError(f"moto server did not start after {_ATTEMPTS} attempts{where}")


def _wait_until_serving(server: subprocess.Popen[bytes], endpoint: str, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            return False
        try:
            with urllib.request.urlopen(f"{endpoint}/moto-api/", timeout=2):  # noqa: S310 (loopback, http)
                return True
        except OSError:
            time.sleep(0.1)
    return False


def _stop(server: subprocess.Popen[bytes]) -> None:
    server.terminate()
    try:
        server.wait(timeout=10)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait(timeout=10)
