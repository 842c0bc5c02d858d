"""``python -m bench.peers`` (``make bench-peers``): the local stack against Seldon's MLServer 1.7.1, same models,
same client, measured side by side.

MLServer runs from a cache venv of its own (``.cache/peers``, Python 3.12 or 3.11: it needs Python < 3.13) with
``parallel_workers`` 0, serving the iris LogisticRegression and 100-tree RandomForest from a model repository. The
local stack serves the same pickles twice, with ``ONNX_FAST_PATH`` false and true. Each figure alternates blocks of
requests between the two servers over one keep-alive connection each, so noise hits both. Cold start is launch to
the first correct answer: for the project, a fresh inference function process over the published models (what a
Lambda cold start runs; the target applies to it) and, for reference, the whole local stack (S3 emulator, loader
and inference function); for MLServer, ``mlserver start``. Written to ``bench/peers.json``; printed as a table.

What makes the comparison unlike: the local stack is the Lambda handler behind a small HTTP gateway in one process
(on AWS, API Gateway and Lambda's own overhead come on top); MLServer runs on Python 3.12, the project on 3.13; the
project answers binary tensors, MLServer only JSON.
"""

from __future__ import annotations

import http.client
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import joblib
import numpy as np

from bench.cold import child_answers
from bench.environment import child_env, function_settings, lambda_logging
from bench.events import predict_output, v2_infer_event, v2_request
from bench.models import ONE_ROW, IrisModel, batch, train_iris_models
from bench.timing import BenchError, run_child
from local_stack.process import running_stack, wait_for_status
from local_stack.stack import REPO_ROOT

CACHE = REPO_ROOT / ".cache" / "peers"
REQUIREMENTS = REPO_ROOT / "bench" / "peers-requirements.txt"
OUTPUT = REPO_ROOT / "bench" / "peers.json"
BLOCKS = 10
PER_BLOCK = {1: 100, 1000: 50}
THROUGHPUT_CLIENTS = 8
THROUGHPUT_REQUESTS = 200  # per client
COLD_RUNS = 3
START_TIMEOUT_SECONDS = 120.0
# project / MLServer, by figure key
TARGETS = {
    "1 row p50 LR fast path": 0.5,
    "1 row p50 RF fast path": 0.15,
    "1 row p50 LR scikit-learn path": 1.0,
    "1 row p50 RF scikit-learn path": 1.0,
    "1,000 rows p50 LR binary, scikit-learn path": 0.5,
    "cold start LR fast path": 0.2,
}


class PeerError(Exception):
    """The peer could not be installed or started, or the two servers disagree."""


def peer_python() -> Path:
    """The cache venv's Python, created and filled from bench/peers-requirements.txt when missing or stale."""
    venv = CACHE / "venv"
    stamp = venv / ".requirements"
    wanted = REQUIREMENTS.read_text()
    if stamp.is_file() and stamp.read_text() == wanted:
        return venv / "bin" / "python"
    base = _base_python()
    if base is None:
        raise PeerError("MLServer needs Python 3.12 or 3.11: put one on PATH or name it in PEER_PYTHON")
    shutil.rmtree(venv, ignore_errors=True)
    subprocess.run([base, "-m", "venv", str(venv)], check=True)
    subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install", "-q", "-r", str(REQUIREMENTS)], check=True)
    stamp.write_text(wanted)
    return venv / "bin" / "python"


def _base_python() -> str | None:
    """A working Python 3.12 or 3.11: PEER_PYTHON, then PATH, then pyenv's versions (whose shims may refuse)."""
    pyenv = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv")) / "versions"
    candidates = [os.environ.get("PEER_PYTHON", "")]
    for version in ("3.12", "3.11"):
        candidates.append(shutil.which(f"python{version}") or "")
        candidates += [str(path) for path in sorted(pyenv.glob(f"{version}.*/bin/python3"))]
    for candidate in filter(None, candidates):
        probe = subprocess.run([candidate, "-c", "import sys; print(sys.version_info[:2])"], capture_output=True)
        if probe.returncode == 0 and probe.stdout.strip() in (b"(3, 12)", b"(3, 11)"):
            return candidate
    return None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def mlserver(python: Path, models: list[IrisModel], scratch: Path) -> Iterator[tuple[str, float]]:
    """MLServer serving ``models``; yields its URL and the seconds from launch to its first correct answer."""
    repository = scratch / "mlserver"
    for model in models:
        directory = repository / model.name
        directory.mkdir(parents=True)
        joblib.dump(model.estimator, directory / "model.joblib")
        settings = {"name": model.name, "implementation": "mlserver_sklearn.SKLearnModel"}
        settings["parameters"] = {"uri": "./model.joblib"}  # type: ignore[assignment]
        (directory / "model-settings.json").write_text(json.dumps(settings))
    port = _free_port()
    server = {"http_port": port, "grpc_port": _free_port(), "metrics_port": _free_port(), "parallel_workers": 0}
    (repository / "settings.json").write_text(json.dumps(server))
    url = f"http://127.0.0.1:{port}"
    log = (scratch / "mlserver.log").open("wb")
    started = time.perf_counter()
    process = subprocess.Popen(
        [str(python.parent / "mlserver"), "start", str(repository)], stdout=log, stderr=subprocess.STDOUT
    )
    try:
        seconds = _first_answer(url, models[0], started, process)
        yield url, seconds
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()


def _first_answer(url: str, model: IrisModel, started: float, process: Any) -> float:
    """Seconds from ``started`` until ``url`` answers a V2 request for ``model`` correctly (bounded)."""
    expected = model.estimator.predict(np.asarray(ONE_ROW)).tolist()
    deadline = started + START_TIMEOUT_SECONDS
    while time.perf_counter() < deadline:
        if process is not None and process.poll() is not None:
            raise PeerError(f"the server exited with {process.returncode} before answering")
        try:
            status, body = _post(url, f"/v2/models/{model.name}/infer", json.dumps(v2_request(ONE_ROW)).encode())
            if status == 200 and _labels(body) == expected:
                return time.perf_counter() - started
        except OSError:
            pass
        time.sleep(0.01)
    raise PeerError(f"{url} gave no correct answer within {START_TIMEOUT_SECONDS} s")


def function_cold_start(model_dir: Path, fast: bool, model: IrisModel, scratch: Path) -> float:
    """Seconds from launching a fresh inference function process, as Lambda starts one for a cold start, over the
    models already published in ``model_dir``, to its exit after its first answer, checked against ``predict``."""
    event = scratch / f"cold-{model.name}.json"
    event.write_text(json.dumps(v2_infer_event(model.name, ONE_ROW)), encoding="utf-8")
    env = child_env({**function_settings(model_dir, fast), **lambda_logging("inference")})
    command = [sys.executable, "-m", "bench.cold_start", str(event)]
    run = run_child(command, env, timeout=START_TIMEOUT_SECONDS, what="cold start of the inference function")
    answers = [predict_output(answer) for answer in child_answers(run)]
    expected = model.estimator.predict(np.asarray(ONE_ROW)).tolist()
    if answers != [expected]:
        raise PeerError(f"the inference function answered {answers}, predict gives {expected}")
    return run.seconds


def _post(url: str, path: str, body: bytes, headers: dict[str, str] | None = None) -> tuple[int, bytes]:
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=30)
    try:
        connection.request("POST", path, body, {"content-type": "application/json", **(headers or {})})
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def _labels(body: bytes) -> list[Any]:
    answer = json.loads(body)
    return list(answer["outputs"][0]["data"])


class Client:
    """One keep-alive connection, timing each request."""

    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        self.connection = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=60)

    def post(self, path: str, body: bytes, headers: dict[str, str]) -> tuple[float, int, bytes]:
        started = time.perf_counter()
        self.connection.request("POST", path, body, headers)
        response = self.connection.getresponse()
        data = response.read()
        return time.perf_counter() - started, response.status, data

    def close(self) -> None:
        self.connection.close()


Request = tuple[str, bytes, dict[str, str]]


def json_request(model: str, rows: list[list[float]]) -> Request:
    return f"/v2/models/{model}/infer", json.dumps(v2_request(rows)).encode(), {"content-type": "application/json"}


def binary_request(model: str, rows: list[list[float]]) -> Request:
    data = np.asarray(rows, dtype="<f8").tobytes()
    tensor = {"name": "input-0", "shape": [len(rows), len(rows[0])], "datatype": "FP64"}
    header = json.dumps({"inputs": [{**tensor, "parameters": {"binary_data_size": len(data)}}]}).encode()
    headers = {"content-type": "application/octet-stream", "inference-header-content-length": str(len(header))}
    return f"/v2/models/{model}/infer", header + data, headers


def interleaved(ours: tuple[str, Request], peer: tuple[str, Request], per_block: int) -> tuple[list[float], ...]:
    """Latencies of both, in alternating blocks (the order flipping every block), each over its keep-alive client."""
    clients = [Client(ours[0]), Client(peer[0])]
    times: tuple[list[float], list[float]] = ([], [])
    try:
        for side, (client, (_, request)) in enumerate(zip(clients, (ours, peer), strict=True)):
            for _ in range(5):  # warm-up
                _check(client.post(*request), side)
        for block in range(BLOCKS):
            order = (0, 1) if block % 2 == 0 else (1, 0)
            for side in order:
                request = (ours, peer)[side][1]
                for _ in range(per_block):
                    seconds, status, _ = clients[side].post(*request)
                    if status != 200:
                        raise PeerError(f"status {status} during the timed requests")
                    times[side].append(seconds)
    finally:
        for client in clients:
            client.close()
    return times


def _check(answer: tuple[float, int, bytes], side: int) -> None:
    if answer[1] != 200:
        raise PeerError(f"{('project', 'MLServer')[side]} answered {answer[1]}: {answer[2][:200]!r}")


def throughput(url: str, request: Request) -> float:
    """Requests per second of THROUGHPUT_CLIENTS threads, each sending THROUGHPUT_REQUESTS on its own connection."""
    failures: list[str] = []

    def run() -> None:
        client = Client(url)
        try:
            for _ in range(THROUGHPUT_REQUESTS):
                _, status, _ = client.post(*request)
                if status != 200:
                    failures.append(str(status))
        finally:
            client.close()

    threads = [threading.Thread(target=run) for _ in range(THROUGHPUT_CLIENTS)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    if failures:
        raise PeerError(f"{len(failures)} requests failed under load: {failures[:3]}")
    return THROUGHPUT_CLIENTS * THROUGHPUT_REQUESTS / elapsed


def _p(values: list[float], quantile: float) -> float:
    return float(np.quantile(np.asarray(values), quantile)) * 1e6


def _publish(stack: Any, models: list[IrisModel], scratch: Path) -> None:
    for model in models:
        path = scratch / f"{model.name}.joblib"
        joblib.dump(model.estimator, path)
        stack.aws("s3", "cp", "--no-progress", str(path), f"s3://{stack.bucket}/{model.name}.joblib")
    for model in models:
        wait_for_status(f"{stack.inference_url}/v2/models/{model.name}/ready", 200, timeout=120)


def measure(progress: Callable[[str], None]) -> list[dict[str, Any]]:
    python = peer_python()
    version = subprocess.run([str(python), "-m", "pip", "show", "mlserver"], capture_output=True, text=True).stdout
    progress(f"peer: MLServer {_field(version, 'Version')} on {_peer_python_version(python)}")
    models = train_iris_models()
    figures: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="bench-peers-") as tmp:
        scratch = Path(tmp)
        with mlserver(python, models, scratch) as (peer_url, _):
            for fast in (False, True):
                path_name = "fast path" if fast else "scikit-learn path"
                # Open, as the peers are: neither side checks a signature, so the figures compare serving alone.
                env = {"ONNX_FAST_PATH": "true" if fast else "false", "LOCAL_API_AUTHORIZATION": "NONE"}
                model_dir = scratch / f"efs-{fast}"
                with running_stack(model_dir, env=env) as stack:
                    _publish(stack, models, scratch)
                    ours = stack.inference_url
                    for model in models:
                        progress(f"{path_name}: {model.label} 1 row")
                        mine, theirs = interleaved(
                            (ours, json_request(model.name, ONE_ROW)),
                            (peer_url, json_request(model.name, ONE_ROW)),
                            PER_BLOCK[1],
                        )
                        for label, quantile in (("p50", 0.5), ("p99", 0.99)):
                            figures.append(
                                _figure(
                                    f"1 row {label} {model.label} {path_name}", _p(mine, quantile), _p(theirs, quantile)
                                )
                            )
                    rows = batch()
                    lr = models[0]
                    for form, build in (("JSON", json_request), ("binary", binary_request)):
                        progress(f"{path_name}: LR 1,000 rows, {form} (MLServer: JSON)")
                        mine, theirs = interleaved(
                            (ours, build(lr.name, rows)), (peer_url, json_request(lr.name, rows)), PER_BLOCK[1000]
                        )
                        figures.append(
                            _figure(f"1,000 rows p50 LR {form}, {path_name}", _p(mine, 0.5), _p(theirs, 0.5))
                        )
                    progress(f"{path_name}: throughput, {THROUGHPUT_CLIENTS} clients, LR 1 row")
                    request = json_request(lr.name, ONE_ROW)
                    figures.append(
                        _figure(
                            f"throughput LR {path_name}",
                            throughput(ours, request),
                            throughput(peer_url, request),
                            unit="req/s",
                            better="higher",
                        )
                    )
        progress("cold start: launch to first correct answer, median of 3 each")
        for fast in (False, True):
            path_name = "fast path" if fast else "scikit-learn path"
            model_dir = scratch / f"efs-{fast}"
            function, stack_start, theirs = [], [], []
            for run in range(COLD_RUNS):
                function.append(function_cold_start(model_dir, fast, models[0], scratch))
                started = time.perf_counter()
                open_stack = {"ONNX_FAST_PATH": "true" if fast else "false", "LOCAL_API_AUTHORIZATION": "NONE"}
                with running_stack(model_dir, env=open_stack) as stack:
                    stack_start.append(_first_answer(stack.inference_url, models[0], started, None))
                with mlserver(python, models[:1], scratch / f"cold-{fast}-{run}") as (_, seconds):
                    theirs.append(seconds)
            peer = statistics.median(theirs)
            figures.append(_figure(f"cold start LR {path_name}", statistics.median(function), peer, unit="s"))
            figures.append(
                _figure(f"cold start LR {path_name}, whole local stack", statistics.median(stack_start), peer, unit="s")
            )
    return figures


def _figure(name: str, ours: float, peer: float, *, unit: str = "us", better: str = "lower") -> dict[str, Any]:
    ratio = ours / peer if peer else None
    target = TARGETS.get(name)
    passed = None if target is None or ratio is None else ratio <= target
    return {"name": name, "ours": ours, "mlserver": peer, "unit": unit, "ratio": ratio, "target": target,
            "better": better, "passed": passed}  # fmt: skip


def _field(text: str, name: str) -> str:
    return next((line.split(":", 1)[1].strip() for line in text.splitlines() if line.startswith(f"{name}:")), "?")


def _peer_python_version(python: Path) -> str:
    return subprocess.run([str(python), "--version"], capture_output=True, text=True).stdout.strip()


def main() -> int:
    started = time.monotonic()

    def progress(message: str) -> None:
        print(f"[{time.monotonic() - started:6.1f} s] {message}", flush=True)

    try:
        figures = measure(progress)
    except (PeerError, BenchError) as error:
        print(f"bench-peers failed: {error}", file=sys.stderr)
        return 1
    OUTPUT.write_text(json.dumps({"python": sys.version.split()[0], "figures": figures}, indent=2) + "\n")
    print(f"\nproject / MLServer 1.7.1, one run ({time.monotonic() - started:.0f} s)\n")
    print(f"{'figure':<48} {'ours':>10} {'MLServer':>10} {'unit':<6} {'ratio':>6}  target")
    for figure in figures:
        target = "" if figure["target"] is None else f"<= {figure['target']} {'pass' if figure['passed'] else 'FAIL'}"
        print(
            f"{figure['name']:<48} {figure['ours']:>10.1f} {figure['mlserver']:>10.1f} {figure['unit']:<6} "
            f"{figure['ratio']:>6.3f}  {target}"
        )
    print(f"\nwritten to {OUTPUT.relative_to(REPO_ROOT)}")
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    sys.exit(main())
