"""Local stack figure: V2 infers per second from concurrent keep-alive clients against ``make serve``'s stack.

Context only: there is no baseline to divide by, so the record's ratio and baseline are null.
"""

from __future__ import annotations

import http.client
import json
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from bench.environment import lambda_logging
from bench.events import served_runtime, v2_request
from bench.models import ONE_ROW, IrisModel, joblib_bytes
from bench.results import Figure
from bench.timing import BenchError, median
from local_stack.process import http_request, running_stack, wait_for_status

CLIENTS = 8
SECONDS = 10.0
READY_TIMEOUT_SECONDS = 60.0
REQUEST_TIMEOUT_SECONDS = 30.0
MAX_ERRORS_PER_CLIENT = 10


@dataclass
class ClientTally:
    latencies: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    connections: int = 0


def measure_local_stack(model: IrisModel, scratch: Path, *, clients: int = CLIENTS, seconds: float = SECONDS) -> Figure:
    """Start the stack on free ports, publish ``model`` through it with the aws CLI, then load it for ``seconds``."""
    model_file = scratch / f"{model.name}.joblib"
    model_file.write_bytes(joblib_bytes(model.estimator))
    # The stack inherits this process's environment, which bench/__main__.py quieted: give it the deployed settings.
    env = {
        "ONNX_FAST_PATH": "true",
        **lambda_logging("inference"),
        "POWERTOOLS_LOG_LEVEL": "INFO",
        "POWERTOOLS_METRICS_DISABLED": "false",
        # The load comes from plain connections that do not sign: the figure is the serving path's, unauthorized.
        "LOCAL_API_AUTHORIZATION": "NONE",
    }
    with running_stack(scratch / "stack-efs", env=env, startup_timeout=READY_TIMEOUT_SECONDS) as stack:
        stack.aws("s3", "cp", "--no-progress", str(model_file), f"s3://{stack.bucket}/{model.name}.joblib")
        wait_for_status(f"{stack.inference_url}/v2/models/{model.name}/ready", 200, timeout=READY_TIMEOUT_SECONDS)
        runtime = served_runtime(http_request("GET", f"{stack.inference_url}/v2/models/{model.name}").json())
        tallies = _load(stack.inference_url, f"/v2/models/{model.name}/infer", clients, seconds)
    errors = [error for tally in tallies for error in tally.errors]
    if errors:
        raise BenchError(f"local stack: {len(errors)} failed requests, e.g. {errors[0]}")
    latencies = [latency for tally in tallies for latency in tally.latencies]
    return Figure(
        name=f"local stack {model.label} 1 row, {clients} clients, served by {runtime}",
        ours=len(latencies) / seconds,
        baseline=None,
        unit="req/s",
        better="higher",
        context={
            "figure": "local stack",
            "model": model.label,
            "onnx_fast_path": True,
            "runtime": runtime,
            "clients": clients,
            "seconds": seconds,
            "requests": len(latencies),
            "p50_ms": round(median(latencies) * 1000, 2),
            "connections_opened": sum(tally.connections for tally in tallies),
        },
    )


def _load(url: str, path: str, clients: int, seconds: float) -> list[ClientTally]:
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    body = json.dumps(v2_request(ONE_ROW)).encode()
    headers = {"content-type": "application/json", "connection": "keep-alive"}
    tallies = [ClientTally() for _ in range(clients)]
    start = threading.Barrier(clients + 1)
    deadline = float("inf")  # set once every client waits at the start line

    def client(tally: ClientTally) -> None:
        connection = http.client.HTTPConnection(host, port, timeout=REQUEST_TIMEOUT_SECONDS)
        try:
            start.wait()
            while time.perf_counter() < deadline:
                if connection.sock is None:
                    tally.connections += 1  # http.client reconnects by itself when the server closed the last one
                began = time.perf_counter()
                try:
                    connection.request("POST", path, body, headers)
                    response = connection.getresponse()
                    answer = response.read()
                except (OSError, http.client.HTTPException) as error:
                    tally.errors.append(f"{type(error).__name__}: {error}")
                    connection.close()
                else:
                    ended = time.perf_counter()
                    if response.status != 200:
                        tally.errors.append(f"status {response.status}: {answer[:200]!r}")
                    elif ended <= deadline:  # answers that arrive after the deadline fall outside the window
                        tally.latencies.append(ended - began)
                if len(tally.errors) >= MAX_ERRORS_PER_CLIENT:
                    return
        finally:
            connection.close()

    # Daemons: an interrupted run need not wait for the clients to reach their deadline.
    threads = [
        threading.Thread(target=client, args=(tally,), name=f"client-{n}", daemon=True)
        for n, tally in enumerate(tallies)
    ]
    for thread in threads:
        thread.start()
    deadline = time.perf_counter() + seconds
    start.wait()
    for thread in threads:
        thread.join(seconds + REQUEST_TIMEOUT_SECONDS + 5)
    if any(thread.is_alive() for thread in threads):
        raise BenchError("local stack: a client did not finish in time")
    return tallies
