"""The servers ``make bench-peers`` holds the project against, each from a cache venv of its own with its versions
pinned (``bench/peers/NAME.txt``), each given the same models as pickles and ``WORKERS`` worker processes, the
number of cores, as their documentation has a server on one machine use them:

- **MLServer** 1.7.1 with mlserver-sklearn: a model repository of ``model-settings.json`` files, inference in the
  server's process (``parallel_workers`` 0: its parallel workers do not start on Python 3.12, and it needs < 3.13).
  Asked V2 JSON (the DataFrame pipeline with ``content_type`` ``pd``); it has no binary tensors.
- **KServe** 0.21: its model server (``kserve.ModelServer``, ``--workers`` WORKERS) with the model class of
  ``bench/peer_apps/kserve_server.py``, as KServe's sklearnserver writes it. Asked V2 JSON, and V2 binary tensors for
  1,000 rows (KServe reads them).
- **BentoML** 1.4: the service of ``bench/peer_apps/bentoml_service.py``, ``workers`` = WORKERS, served by
  ``bentoml serve``. Asked BentoML's own JSON (a numpy array of rows, records for the pipeline): a field per
  argument is how a BentoML API takes its input, and spares it the V2 envelope.
- **MLflow** 3.17: ``mlflow models serve --env-manager local --workers WORKERS``, one server per model (MLflow
  serves one model a process), each on an MLflow directory of the same pickle saved by the peer venv's MLflow.
  Asked the scoring protocol's ``inputs`` for a tensor and ``dataframe_split`` for the pipeline.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import joblib
import numpy as np

from local_stack.stack import REPO_ROOT

REQUIREMENTS = REPO_ROOT / "bench" / "peers"
APPS = REPO_ROOT / "bench" / "peer_apps"
CACHE = REPO_ROOT / ".cache" / "peers"
WORKERS = os.cpu_count() or 1
START_TIMEOUT_SECONDS = 180.0

Request = tuple[str, bytes, dict[str, str]]  # path, body, headers
JSON = {"content-type": "application/json"}


class PeerError(Exception):
    """A peer could not be installed or started, or answered wrong."""


@dataclass(frozen=True)
class Case:
    """A model as every server is asked it: iris rows of four numbers, or a DataFrame pipeline's named columns."""

    name: str
    label: str
    estimator: Any
    named: bool = False

    def expected(self, rows: Any) -> list[Any]:
        features = rows if self.named else np.asarray(rows)
        return list(self.estimator.predict(features).tolist())


def v2_tensor(rows: list[list[float]]) -> dict[str, Any]:
    return {"inputs": [{"name": "input-0", "shape": [len(rows), len(rows[0])], "datatype": "FP64", "data": rows}]}


def v2_columns(frame: Any) -> dict[str, Any]:
    """One V2 input per column, with ``content_type`` ``pd``: how MLServer, KServe and the project read a frame."""
    inputs = []
    for name in frame.columns:
        strings = frame[name].dtype.kind in "OUS" or str(frame[name].dtype) in ("str", "string")
        data = [str(value) for value in frame[name]] if strings else frame[name].astype(float).tolist()
        inputs.append({"name": name, "shape": [len(frame)], "datatype": "BYTES" if strings else "FP64", "data": data})
    return {"parameters": {"content_type": "pd"}, "inputs": inputs}


def v2_binary(rows: list[list[float]]) -> tuple[bytes, dict[str, str]]:
    """The rows as a V2 binary tensor: the JSON header, then the little-endian doubles."""
    data = np.asarray(rows, dtype="<f8").tobytes()
    tensor = {"name": "input-0", "shape": [len(rows), len(rows[0])], "datatype": "FP64"}
    header = json.dumps({"inputs": [{**tensor, "parameters": {"binary_data_size": len(data)}}]}).encode()
    return header + data, {
        "content-type": "application/octet-stream",
        "inference-header-content-length": str(len(header)),
    }


def v2_labels(body: bytes) -> list[Any]:
    return list(json.loads(body)["outputs"][0]["data"])


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class Running:
    """A peer serving: its URL for each model, and the seconds from launch to its first correct answer."""

    urls: dict[str, str]
    seconds: float


class Peer:
    key = ""
    label = ""
    package = ""
    pythons: tuple[str, ...] = ("3.13", "3.12")
    binary = False  # takes V2 binary tensors for 1,000 rows

    def python(self) -> Path:
        """The peer venv's Python, created from ``bench/peers/KEY.txt`` when missing or stale."""
        requirements = REQUIREMENTS / f"{self.key}.txt"
        venv = CACHE / self.key
        stamp = venv / ".requirements"
        wanted = requirements.read_text()
        if stamp.is_file() and stamp.read_text() == wanted:
            return venv / "bin" / "python"
        base = base_python(self.pythons)
        if base is None:
            raise PeerError(f"{self.label} needs Python {' or '.join(self.pythons)}: put one on PATH or in PEER_PYTHON")
        shutil.rmtree(venv, ignore_errors=True)
        subprocess.run([base, "-m", "venv", str(venv)], check=True)
        install = [str(venv / "bin" / "python"), "-m", "pip", "install", "-q", "-r", str(requirements)]
        done = subprocess.run(install, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            errors = [line for line in done.stderr.splitlines() if not line.startswith("WARNING: Location")]
            raise PeerError(
                f"{self.label} could not be installed from {requirements.name}:\n" + "\n".join(errors[-20:])
            )
        stamp.write_text(wanted)
        return venv / "bin" / "python"

    def version(self, python: Path) -> str:
        shown = subprocess.run([str(python), "-m", "pip", "show", self.package], capture_output=True, text=True)
        return next(
            (line.split(":", 1)[1].strip() for line in shown.stdout.splitlines() if line.startswith("Version:")), "?"
        )

    def prepare(self, python: Path, cases: list[Case], directory: Path) -> None:
        """Write the models as this peer reads them into ``directory``."""
        directory.mkdir(parents=True, exist_ok=True)
        for case in cases:
            joblib.dump(case.estimator, directory / f"{case.name}.joblib")

    def launch(self, python: Path, cases: list[Case], directory: Path, log: Path) -> tuple[list[Any], dict[str, str]]:
        raise NotImplementedError

    def request(self, case: Case, rows: Any, *, binary: bool = False) -> Request:
        path = f"/v2/models/{case.name}/infer"
        if case.named:
            return path, json.dumps(v2_columns(rows)).encode(), JSON
        if binary and self.binary:
            body, headers = v2_binary(rows)
            return path, body, headers
        return path, json.dumps(v2_tensor(rows)).encode(), JSON

    def labels(self, body: bytes) -> list[Any]:
        return v2_labels(body)

    def env(self, python: Path, extra: dict[str, str] | None = None) -> dict[str, str]:
        """What a peer's processes get: its venv first on PATH, its caches in the scratch directory."""
        return {
            "PATH": f"{python.parent}{os.pathsep}{os.environ.get('PATH', os.defpath)}",
            "HOME": os.environ.get("HOME", str(CACHE)),
            "LANG": "C.UTF-8",
            "PYTHONHASHSEED": "0",
            **(extra or {}),
        }


class MLServer(Peer):
    key, label, package, pythons = "mlserver", "MLServer", "mlserver", ("3.12", "3.11")

    def prepare(self, python: Path, cases: list[Case], directory: Path) -> None:
        for case in cases:
            folder = directory / case.name
            folder.mkdir(parents=True)
            joblib.dump(case.estimator, folder / "model.joblib")
            settings = {"name": case.name, "implementation": "mlserver_sklearn.SKLearnModel"}
            (folder / "model-settings.json").write_text(
                json.dumps({**settings, "parameters": {"uri": "./model.joblib"}})
            )

    def launch(self, python: Path, cases: list[Case], directory: Path, log: Path) -> tuple[list[Any], dict[str, str]]:
        port = free_port()
        server = {"http_port": port, "grpc_port": free_port(), "metrics_port": free_port()}
        # Inference in the server's own process: MLServer 1.7.1's parallel workers fail to start on Python 3.12
        # ("There is no current event loop in thread 'MainThread'").
        (directory / "settings.json").write_text(json.dumps({**server, "parallel_workers": 0}))
        command = [str(python.parent / "mlserver"), "start", str(directory)]
        url = f"http://127.0.0.1:{port}"
        return [_spawn(command, self.env(python), log)], {case.name: url for case in cases}


class KServe(Peer):
    key, label, package, binary = "kserve", "KServe", "kserve", True

    def launch(self, python: Path, cases: list[Case], directory: Path, log: Path) -> tuple[list[Any], dict[str, str]]:
        port = free_port()
        command = [str(python), str(APPS / "kserve_server.py"), "--model_dir", str(directory)]
        command += ["--http_port", str(port), "--grpc_port", str(free_port()), "--workers", str(WORKERS)]
        url = f"http://127.0.0.1:{port}"
        return [_spawn(command, self.env(python), log)], {case.name: url for case in cases}


class BentoML(Peer):
    key, label, package = "bentoml", "BentoML", "bentoml"

    def launch(self, python: Path, cases: list[Case], directory: Path, log: Path) -> tuple[list[Any], dict[str, str]]:
        port = free_port()
        command = [str(python.parent / "bentoml"), "serve", "bentoml_service:Models", "--host", "127.0.0.1"]
        command += ["--port", str(port), "--working-dir", str(APPS)]
        extra = {
            "BENCH_PEER_MODELS": str(directory),
            "BENCH_PEER_WORKERS": str(WORKERS),
            "BENTOML_HOME": str(directory / "bentoml-home"),
            "BENTOML_DO_NOT_TRACK": "True",
        }
        url = f"http://127.0.0.1:{port}"
        return [_spawn(command, self.env(python, extra), log)], {case.name: url for case in cases}

    def request(self, case: Case, rows: Any, *, binary: bool = False) -> Request:
        if case.named:
            return "/predict_frame", json.dumps({"model": case.name, "records": _records(rows)}).encode(), JSON
        return "/predict", json.dumps({"model": case.name, "rows": rows}).encode(), JSON

    def labels(self, body: bytes) -> list[Any]:
        return list(json.loads(body))


class MLflow(Peer):
    key, label, package = "mlflow", "MLflow", "mlflow"

    def prepare(self, python: Path, cases: list[Case], directory: Path) -> None:
        super().prepare(python, cases, directory)
        samples = directory / "samples"
        samples.mkdir()
        for case in cases:
            sample = case_sample(case)
            (samples / f"{case.name}.json").write_text(json.dumps(sample))
        done = subprocess.run(
            [str(python), str(APPS / "mlflow_save.py"), str(directory)],
            env=self.env(python),
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode != 0:
            raise PeerError(f"MLflow could not save the models: {done.stderr[-2000:]}")

    def launch(self, python: Path, cases: list[Case], directory: Path, log: Path) -> tuple[list[Any], dict[str, str]]:
        processes, urls = [], {}
        for case in cases:
            port = free_port()
            command = [str(python.parent / "mlflow"), "models", "serve", "-m", str(directory / case.name)]
            command += ["-h", "127.0.0.1", "-p", str(port), "--env-manager", "local", "--workers", str(WORKERS)]
            processes.append(_spawn(command, self.env(python), log.with_name(f"{log.stem}-{case.name}.log")))
            urls[case.name] = f"http://127.0.0.1:{port}"
        return processes, urls

    def request(self, case: Case, rows: Any, *, binary: bool = False) -> Request:
        if case.named:
            split = {"columns": list(rows.columns), "data": _records(rows, as_lists=True)}
            return "/invocations", json.dumps({"dataframe_split": split}).encode(), JSON
        return "/invocations", json.dumps({"inputs": rows}).encode(), JSON

    def labels(self, body: bytes) -> list[Any]:
        return list(json.loads(body)["predictions"])


PEERS: tuple[Peer, ...] = (MLServer(), KServe(), BentoML(), MLflow())


def case_sample(case: Case) -> dict[str, Any]:
    """A few rows of the case, as ``dataframe_split`` (MLflow infers the signature from them)."""
    from bench import tabular
    from bench.models import batch

    if case.named:
        frame = tabular.training_frame(5)
        return {"columns": list(frame.columns), "data": _records(frame, as_lists=True), "named": True}
    return {"columns": [f"x{index}" for index in range(4)], "data": batch(5), "named": False}


def _records(frame: Any, *, as_lists: bool = False) -> list[Any]:
    records: list[Any] = json.loads(frame.to_json(orient="values" if as_lists else "records"))
    return records


def _spawn(command: list[str], env: dict[str, str], log: Path) -> Any:
    handle = log.open("wb")
    try:
        return subprocess.Popen(command, env=env, stdout=handle, stderr=subprocess.STDOUT, start_new_session=True)
    finally:
        handle.close()


@contextmanager
def serving(peer: Peer, python: Path, cases: list[Case], directory: Path, scratch: Path) -> Iterator[Running]:
    """The peer serving ``cases`` from ``directory`` (prepared); stopped, with every process it started, after."""
    log = scratch / f"{peer.key}-{directory.name}.log"
    started = time.perf_counter()
    processes, urls = peer.launch(python, cases, directory, log)
    with ExitStack() as stack:
        for process in processes:
            stack.callback(_stop, process)
        seconds = first_answer(peer, urls, cases[0], started, processes, log)
        for case in cases[1:]:
            first_answer(peer, urls, case, time.perf_counter(), processes, log)
        yield Running(urls, seconds)


def first_answer(
    peer: Peer, urls: dict[str, str], case: Case, started: float, processes: list[Any], log: Path
) -> float:
    """Seconds from ``started`` until the peer answers one row of ``case`` correctly (bounded)."""
    from bench.peers import one_row, post

    rows = one_row(case)
    expected = case.expected(rows)
    path, body, headers = peer.request(case, rows)
    deadline = started + START_TIMEOUT_SECONDS
    while time.perf_counter() < deadline:
        for process in processes:
            if process.poll() is not None:
                tail = log.read_text(errors="replace")[-3000:] if log.exists() else ""
                raise PeerError(f"{peer.label} exited with {process.returncode} before answering:\n{tail}")
        try:
            status, answer = post(urls[case.name], path, body, headers)
            if status == 200 and peer.labels(answer) == expected:
                return time.perf_counter() - started
        except (OSError, ValueError, KeyError, TypeError):
            pass
        time.sleep(0.01)
    raise PeerError(f"{peer.label} gave no correct answer for {case.label} within {START_TIMEOUT_SECONDS:.0f} s")


def _stop(process: Any) -> None:
    """SIGTERM to the peer's whole process group (its workers), then SIGKILL if it lingers."""
    import signal

    if process.poll() is not None:
        return
    with suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        with suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)


def base_python(versions: tuple[str, ...]) -> str | None:
    """A working Python of one of ``versions``: PEER_PYTHON, then PATH, then pyenv's versions."""
    pyenv = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv")) / "versions"
    candidates = [os.environ.get("PEER_PYTHON", "")]
    for version in versions:
        candidates.append(shutil.which(f"python{version}") or "")
        candidates += [str(path) for path in sorted(pyenv.glob(f"{version}.*/bin/python3"))]
    wanted = {f"({version.replace('.', ', ')})" for version in versions}
    for candidate in filter(None, candidates):
        probe = subprocess.run([candidate, "-c", "import sys; print(sys.version_info[:2])"], capture_output=True)
        if probe.returncode == 0 and probe.stdout.strip().decode() in wanted:
            return candidate
    return None
