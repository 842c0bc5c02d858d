"""``python -m bench.peers`` (``make bench-peers``): the local stack against every server a team would pick instead,
on the same models, with the same client, on the same machine, in one run: MLServer, KServe, BentoML and MLflow
(``bench/peer_servers.py`` says how each is installed, run and asked).

Models: the iris LogisticRegression (LR) and 100-tree RandomForest (RF), and the DataFrame pipeline of
``bench/tabular.py`` (OneHotEncoder on 4 string columns, StandardScaler on 6). The local stack serves the same
pickles twice, with ``ONNX_FAST_PATH`` false and true, open (as the peers are: no signed requests), with
``LOCAL_INFERENCE_CONCURRENCY`` = the number of cores, as every peer gets that many workers.

Every figure first checks each server's answer against the model's own ``predict``, and fails the run when one
differs. Latencies alternate blocks of requests over every server, the order rotating each block, each over one
keep-alive connection, so that noise hits all of them. Throughput is each server alone, 8 clients on keep-alive
connections. Cold start is launch to the first correct answer: for the project, a fresh inference function process
over the published models (what a Lambda cold start runs) and, for reference, the whole local stack; for a peer,
its server command. Each ratio is the project's figure over the best peer's. Written to ``bench/peers.json``.
"""

from __future__ import annotations

import http.client
import json
import os
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import joblib
import numpy as np

from bench import tabular
from bench.cold import child_answers
from bench.environment import child_env, function_settings, lambda_logging
from bench.events import predict_output, v2_infer_event
from bench.models import ONE_ROW, batch, train_iris_models
from bench.peer_servers import PEERS, WORKERS, Case, PeerError, Request, serving
from bench.timing import BenchError, run_child
from local_stack.process import running_stack, wait_for_status
from local_stack.stack import REPO_ROOT

OUTPUT = REPO_ROOT / "bench" / "peers.json"
BLOCKS = 10
PER_BLOCK = {1: 40, 1000: 10}
THROUGHPUT_CLIENTS = 8
THROUGHPUT_REQUESTS = 150  # per client
THROUGHPUT_WARMUP = 25  # per client, untimed
COLD_RUNS = 3
START_TIMEOUT_SECONDS = 180.0
PATHS = {False: "scikit-learn path", True: "fast path"}
# project / best peer, by figure name; "higher" figures (throughput) are met at or above
TARGETS: dict[str, float] = {
    "1 row p50 LR fast path": 0.5,
    "1 row p50 RF fast path": 0.15,
    "1 row p50 DataFrame pipeline fast path": 0.2,
    "1 row p50 LR scikit-learn path": 1.0,
    "1 row p50 RF scikit-learn path": 1.0,
    "1 row p50 DataFrame pipeline scikit-learn path": 1.0,
    "1,000 rows p50 LR binary, fast path": 0.5,
    "1,000 rows p50 LR binary, scikit-learn path": 1.0,
    "cold start LR fast path": 0.2,
    "throughput LR fast path": 1.5,
    "throughput RF fast path": 1.5,
    "throughput LR scikit-learn path": 1.5,
    "throughput RF scikit-learn path": 1.5,
}


def one_row(case: Case) -> Any:
    return tabular.training_frame(1) if case.named else ONE_ROW


def rows_of(case: Case, count: int) -> Any:
    return tabular.training_frame(count) if case.named else batch(count)


def post(url: str, path: str, body: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=30)
    try:
        connection.request("POST", path, body, headers)
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


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


class Side:
    """One server asked one thing: its URL, the request, and how to read its labels."""

    def __init__(self, name: str, url: str, request: Request, labels: Callable[[bytes], list[Any]]) -> None:
        self.name, self.url, self.request, self.labels = name, url, request, labels

    def check(self, expected: list[Any]) -> None:
        """The answer must be the model's own predict, before anything is timed."""
        status, body = post(self.url, *self.request)
        if status != 200:
            raise PeerError(f"{self.name} answered {status}: {body[:300]!r}")
        if self.labels(body) != expected:
            raise PeerError(f"{self.name} answered {self.labels(body)[:10]}, predict gives {expected[:10]}")


def latencies(sides: list[Side], per_block: int) -> list[list[float]]:
    """Each side's latencies over ``BLOCKS`` blocks of ``per_block`` requests, the order rotating every block."""
    clients = [Client(side.url) for side in sides]
    times: list[list[float]] = [[] for _ in sides]
    try:
        for client, side in zip(clients, sides, strict=True):
            for _ in range(5):  # warm-up
                client.post(*side.request)
        for block in range(BLOCKS):
            for offset in range(len(sides)):
                index = (block + offset) % len(sides)
                for _ in range(per_block):
                    seconds, status, _ = clients[index].post(*sides[index].request)
                    if status != 200:
                        raise PeerError(f"{sides[index].name}: status {status} during the timed requests")
                    times[index].append(seconds)
    finally:
        for client in clients:
            client.close()
    return times


def throughput(side: Side) -> float:
    """Requests per second of THROUGHPUT_CLIENTS threads, each sending THROUGHPUT_REQUESTS on its own connection,
    after an untimed round of as many clients: a server that starts workers on demand (the project's inference
    environments, as Lambda's) has started them, and each has its model loaded, before the clock runs."""
    _clients(side, THROUGHPUT_WARMUP)
    return THROUGHPUT_CLIENTS * THROUGHPUT_REQUESTS / _clients(side, THROUGHPUT_REQUESTS)


def _clients(side: Side, requests: int) -> float:
    """Seconds for THROUGHPUT_CLIENTS threads to send ``requests`` each."""
    failures: list[str] = []

    def run() -> None:
        client = Client(side.url)
        try:
            for _ in range(requests):
                _, status, _ = client.post(*side.request)
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
        raise PeerError(f"{side.name}: {len(failures)} requests failed under load: {failures[:3]}")
    return elapsed


def ours_request(case: Case, rows: Any, *, binary: bool = False) -> Request:
    """What the project is asked: the same V2 forms (per column for the pipeline), binary tensors when said."""
    from bench.peer_servers import JSON, v2_binary, v2_columns, v2_tensor

    path = f"/v2/models/{case.name}/infer"
    if case.named:
        return path, json.dumps(v2_columns(rows)).encode(), JSON
    if binary:
        body, headers = v2_binary(rows)
        return path, body, headers
    return path, json.dumps(v2_tensor(rows)).encode(), JSON


def _p(values: list[float], quantile: float) -> float:
    return float(np.quantile(np.asarray(values), quantile)) * 1e6


def function_cold_start(model_dir: Path, fast: bool, case: Case, scratch: Path) -> float:
    """Seconds from launching a fresh inference function process over the models published in ``model_dir`` (a
    Lambda cold start) to its exit after its first answer, checked against ``predict``."""
    event = scratch / f"cold-{case.name}.json"
    event.write_text(json.dumps(v2_infer_event(case.name, ONE_ROW)), encoding="utf-8")
    env = child_env({**function_settings(model_dir, fast), **lambda_logging("inference")})
    command = [sys.executable, "-m", "bench.cold_start", str(event)]
    run = run_child(command, env, timeout=START_TIMEOUT_SECONDS, what="cold start of the inference function")
    answers = [predict_output(answer) for answer in child_answers(run)]
    if answers != [case.expected(ONE_ROW)]:
        raise PeerError(f"the inference function answered {answers}, predict gives {case.expected(ONE_ROW)}")
    return run.seconds


def _publish(stack: Any, cases: list[Case], scratch: Path) -> None:
    for case in cases:
        path = scratch / f"{case.name}.joblib"
        joblib.dump(case.estimator, path)
        stack.aws("s3", "cp", "--no-progress", str(path), f"s3://{stack.bucket}/{case.name}.joblib")
    for case in cases:
        wait_for_status(f"{stack.inference_url}/v2/models/{case.name}/ready", 200, timeout=120, signed=False)


class Figures:
    """Each figure: the project's value, every peer's, and the ratio to the best peer."""

    def __init__(self) -> None:
        self.rows: list[dict[str, Any]] = []

    def add(self, name: str, ours: float, peers: dict[str, float], *, unit: str = "us", better: str = "lower") -> None:
        best_name, best = (min if better == "lower" else max)(peers.items(), key=lambda item: item[1])
        ratio = ours / best if best else None
        target = TARGETS.get(name)
        passed = None
        if target is not None and ratio is not None:
            passed = ratio <= target if better == "lower" else ratio >= target
        self.rows.append(
            {
                "name": name,
                "ours": ours,
                "peers": peers,
                "best_peer": best_name,
                "unit": unit,
                "ratio": ratio,
                "target": target,
                "better": better,
                "passed": passed,
            }
        )


def measure(progress: Callable[[str], None]) -> tuple[list[dict[str, Any]], dict[str, str]]:
    progress(f"peers: installing or reusing their venvs under .cache/peers ({', '.join(p.label for p in PEERS)})")
    with ThreadPoolExecutor(len(PEERS)) as pool:
        pythons = dict(zip([peer.key for peer in PEERS], pool.map(lambda peer: peer.python(), PEERS), strict=True))
    versions = {peer.label: peer.version(pythons[peer.key]) for peer in PEERS}
    progress("peers: " + ", ".join(f"{label} {version}" for label, version in versions.items()))
    lr, rf = train_iris_models()
    cases = [
        Case(lr.name, "LR", lr.estimator),
        Case(rf.name, "RF", rf.estimator),
        Case(tabular.NAME, "DataFrame pipeline", tabular.train_pipeline(), named=True),
    ]
    figures = Figures()
    with tempfile.TemporaryDirectory(prefix="bench-peers-") as tmp:
        scratch = Path(tmp)
        directories = {}
        for peer in PEERS:
            directories[peer.key] = scratch / peer.key
            peer.prepare(pythons[peer.key], cases, directories[peer.key])
        _warm_figures(figures, cases, pythons, directories, scratch, progress)
        _cold_figures(figures, cases[0], pythons, directories, scratch, progress)
    return figures.rows, versions


def _warm_figures(
    figures: Figures,
    cases: list[Case],
    pythons: dict[str, Path],
    directories: dict[str, Path],
    scratch: Path,
    progress: Callable[[str], None],
) -> None:
    from contextlib import ExitStack

    with ExitStack() as running:
        progress(f"starting the peers, {WORKERS} workers each")
        served = {
            peer.key: running.enter_context(serving(peer, pythons[peer.key], cases, directories[peer.key], scratch))
            for peer in PEERS
        }
        for fast in (False, True):
            path = PATHS[fast]
            env = {
                "ONNX_FAST_PATH": "true" if fast else "false",
                "LOCAL_API_AUTHORIZATION": "NONE",
                "LOCAL_INFERENCE_CONCURRENCY": str(WORKERS),
            }
            with running_stack(scratch / f"efs-{fast}", env=env) as stack:
                _publish(stack, cases, scratch)

                def sides(case: Case, rows: Any, *, binary: bool = False) -> list[Side]:
                    ours = Side("the project", stack.inference_url, ours_request(case, rows, binary=binary), _v2)
                    peers = [
                        Side(p.label, served[p.key].urls[case.name], p.request(case, rows, binary=binary), p.labels)
                        for p in PEERS
                    ]
                    for side in (ours, *peers):
                        side.check(case.expected(rows))
                    return [ours, *peers]

                for case in cases:
                    progress(f"{path}: {case.label}, 1 row")
                    times = latencies(sides(case, one_row(case)), PER_BLOCK[1])
                    for label, quantile in (("p50", 0.5), ("p99", 0.99)):
                        peers = {p.label: _p(t, quantile) for p, t in zip(PEERS, times[1:], strict=True)}
                        figures.add(f"1 row {label} {case.label} {path}", _p(times[0], quantile), peers)
                lr = cases[0]
                rows = rows_of(lr, 1000)
                progress(f"{path}: LR, 1,000 rows, JSON and binary (KServe binary, the others their JSON)")
                for form, binary in (("JSON", False), ("binary", True)):
                    times = latencies(sides(lr, rows, binary=binary), PER_BLOCK[1000])
                    peers = {p.label: _p(t, 0.5) for p, t in zip(PEERS, times[1:], strict=True)}
                    figures.add(f"1,000 rows p50 LR {form}, {path}", _p(times[0], 0.5), peers)
                for case in cases[:2]:
                    progress(f"{path}: throughput, {THROUGHPUT_CLIENTS} clients, {case.label}, 1 row")
                    every = sides(case, one_row(case))
                    values = [throughput(side) for side in every]
                    peers = {p.label: value for p, value in zip(PEERS, values[1:], strict=True)}
                    figures.add(f"throughput {case.label} {path}", values[0], peers, unit="req/s", better="higher")


def _cold_figures(
    figures: Figures,
    lr: Case,
    pythons: dict[str, Path],
    directories: dict[str, Path],
    scratch: Path,
    progress: Callable[[str], None],
) -> None:
    progress(f"cold start: launch to the first correct answer, median of {COLD_RUNS} each")
    peers: dict[str, list[float]] = {peer.label: [] for peer in PEERS}
    for run in range(COLD_RUNS):
        for peer in PEERS:
            directory = scratch / f"cold-{peer.key}-{run}"
            peer.prepare(pythons[peer.key], [lr], directory)
            with serving(peer, pythons[peer.key], [lr], directory, scratch) as running:
                peers[peer.label].append(running.seconds)
    peer_medians = {label: statistics.median(values) for label, values in peers.items()}
    for fast in (False, True):
        path = PATHS[fast]
        model_dir = scratch / f"efs-{fast}"
        function, whole = [], []
        for _ in range(COLD_RUNS):
            function.append(function_cold_start(model_dir, fast, lr, scratch))
            started = time.perf_counter()
            env = {"ONNX_FAST_PATH": "true" if fast else "false", "LOCAL_API_AUTHORIZATION": "NONE"}
            with running_stack(model_dir, env=env) as stack:
                whole.append(_first_answer(stack.inference_url, lr, started))
        figures.add(f"cold start LR {path}", statistics.median(function), peer_medians, unit="s")
        figures.add(f"cold start LR {path}, whole local stack", statistics.median(whole), peer_medians, unit="s")


def _first_answer(url: str, case: Case, started: float) -> float:
    expected = case.expected(ONE_ROW)
    path, body, headers = ours_request(case, ONE_ROW)
    deadline = started + START_TIMEOUT_SECONDS
    while time.perf_counter() < deadline:
        try:
            status, answer = post(url, path, body, headers)
            if status == 200 and _v2(answer) == expected:
                return time.perf_counter() - started
        except OSError:
            pass
        time.sleep(0.01)
    raise PeerError(f"{url} gave no correct answer within {START_TIMEOUT_SECONDS:.0f} s")


def _v2(body: bytes) -> list[Any]:
    return list(json.loads(body)["outputs"][0]["data"])


def table(rows: list[dict[str, Any]]) -> str:
    labels = [peer.label for peer in PEERS]
    head = (
        f"{'figure':<50} {'ours':>9} "
        + " ".join(f"{label:>9}" for label in labels)
        + f" {'unit':<6} {'ratio':>6}  target"
    )
    lines = [head, "-" * len(head)]
    for row in rows:
        target = ""
        if row["target"] is not None:
            sign = "<=" if row["better"] == "lower" else ">="
            target = f"{sign} {row['target']} {'pass' if row['passed'] else 'FAIL'}"
        values = " ".join(f"{row['peers'][label]:>9.1f}" for label in labels)
        lines.append(f"{row['name']:<50} {row['ours']:>9.1f} {values} {row['unit']:<6} {row['ratio']:>6.3f}  {target}")
    return "\n".join(lines)


def main() -> int:
    started = time.monotonic()

    def progress(message: str) -> None:
        print(f"[{time.monotonic() - started:6.1f} s] {message}", flush=True)

    try:
        rows, versions = measure(progress)
    except (PeerError, BenchError) as error:
        print(f"bench-peers failed: {error}", file=sys.stderr)
        return 1
    record = {"python": sys.version.split()[0], "workers": WORKERS, "peers": versions, "figures": rows}
    OUTPUT.write_text(json.dumps(record, indent=2) + "\n")
    names = ", ".join(f"{label} {version}" for label, version in versions.items())
    print(f"\nthe project / the best of {names}; one run ({time.monotonic() - started:.0f} s)\n")
    print(table(rows))
    print(f"\nwritten to {OUTPUT.relative_to(REPO_ROOT)}")
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    sys.exit(main())
