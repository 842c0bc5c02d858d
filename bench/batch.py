"""Batch worker figures: one worker's rows per second on a chunk (CSV: its lines found, decoded by the model's
signature, answered, encoded as answer lines; Parquet: its row groups read, answered, written as Parquet; the S3
emulator left out: the chunk is read from memory) against the script a data scientist writes on the same rows:
``pandas.read_csv`` (or ``read_parquet``), ``predict``, ``to_csv`` (or ``to_parquet``). Target >= 1.0 for LR, RF and
the DataFrame pipeline, each on the runtime the loader published it for (the fast path where converted).
"""

from __future__ import annotations

import functools
import io
import json
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import joblib
import numpy as np

from bench import tabular
from bench.batch_memory import MemoryStore
from bench.environment import child_env, function_settings, overlay
from bench.models import IrisModel, joblib_bytes
from bench.publishing import published_file
from bench.results import Figure
from bench.timing import BenchError, median
from lambdas.batch import parquet
from lambdas.batch.steps import plan, score
from lambdas.common.settings import Settings

ROWS = 20_000
ROUNDS = 7


def measure_batch(model_dir: Path, models: list[IrisModel], *, scale: float = 1.0) -> list[Figure]:
    """Each model on a chunk of ``ROWS`` rows, best-of-rounds medians of both sides, alternating."""
    from lambdas.inference.cache import ModelCache

    rows = max(200, round(ROWS * scale))
    rounds = max(2, round(ROUNDS * scale)) if scale < 1 else ROUNDS
    env = function_settings(model_dir, True)
    figures = []
    with overlay(env):
        settings = Settings.from_env(env)
        cache = ModelCache(settings.model_dir, max_bytes=1 << 30, refresh_seconds=60.0, serve_onnx=True)
        frames = [(model.label, model.name, _iris_frame(rows)) for model in models]
        frames.append(("DataFrame pipeline", tabular.NAME, tabular.training_frame(rows)))
        for fmt in FORMATS:
            for label, name, frame in frames:
                served = cache.get(name)
                estimator = joblib.load(published_file(model_dir, name))
                data = _file(frame, fmt)
                ours_answers, ours_seconds = _rounds(functools.partial(_worker, served, data, fmt), rounds)
                theirs_answers, theirs_seconds = _rounds(functools.partial(_pandas, estimator, data, fmt), rounds)
                if ours_answers != theirs_answers:
                    raise BenchError(f"batch {label} ({fmt}): the worker's answers differ from the pandas script's")
                runtime = served.runner.runtime
                figures.append(
                    Figure(
                        name=f"batch worker, {label}, {rows:,}-row {FORMATS[fmt]} chunk, served by {runtime}",
                        ours=rows / ours_seconds,
                        baseline=rows / theirs_seconds,
                        unit="rows/s",
                        better="higher",
                        target=1.0,
                        context={"figure": "batch", "model": label, "rows": rows, "format": fmt, "runtime": runtime},
                    )
                )
    return figures


def _rounds(run: Any, rounds: int) -> tuple[list[Any], float]:
    answers, times = None, []
    for _ in range(rounds):
        started = time.perf_counter()
        answers = run()
        times.append(time.perf_counter() - started)
    return list(answers or []), median(times)


def _worker(served: Any, data: bytes, fmt: str) -> list[Any]:
    """The worker's own score step on the file as one range, its part read back as the answers."""
    store = MemoryStore({f"input/{served.name}/rows.{fmt}": data})

    def models(name: str, version: int | None) -> Any:
        return served

    job = plan(store, "data", f"input/{served.name}/rows.{fmt}", models, chunk_bytes=len(data) + 1)
    score(store, job, 0, models)
    part = store.objects[job.part_key(0, "out")]
    if fmt == "csv":
        return part.decode().splitlines()
    return list(parquet.read_table(part).column("predict").to_pylist())


FORMATS = {"csv": "CSV", "parquet": "Parquet"}


def _pandas(estimator: Any, data: bytes, fmt: str) -> list[Any]:
    """The script a data scientist writes: read the file, predict, write the answers in the same format."""
    import pandas as pd

    frame = pd.read_csv(io.BytesIO(data)) if fmt == "csv" else pd.read_parquet(io.BytesIO(data))
    features = frame if hasattr(estimator, "feature_names_in_") else frame.to_numpy()
    answers = pd.DataFrame({"predict": estimator.predict(features)})
    if fmt == "csv":
        text: str = answers.to_csv(index=False, header=False)
        return text.splitlines()
    out = io.BytesIO()
    answers.to_parquet(out, index=False)
    return list(pd.read_parquet(io.BytesIO(out.getvalue()))["predict"].tolist())


def _iris_frame(rows: int) -> Any:
    import pandas as pd
    from sklearn.datasets import load_iris

    columns = ["sepal_length", "sepal_width", "petal_length", "petal_width"]
    return pd.DataFrame(np.resize(load_iris().data, (rows, 4)), columns=columns)


def _file(frame: Any, fmt: str) -> bytes:
    """The rows as a CSV file (numbers written as Python writes them), or as a Parquet file of one row group."""
    if fmt == "csv":
        text: str = frame.to_csv(index=False)
        return text.encode()
    out = io.BytesIO()
    frame.to_parquet(out, index=False, row_group_size=len(frame))
    return out.getvalue()


# Two files, one eight times the other: the worker's peak must not grow with the file.
MEMORY_ROWS = (250_000, 2_000_000)
MEMORY_CHUNK_BYTES = 4 * 1024 * 1024


def measure_memory(model_dir: Path, *, scale: float = 1.0) -> list[Figure]:
    """A worker's peak memory on one 4 MB chunk against the chunk's decoded size, for a small file and one eight
    times larger, in CSV and Parquet (``bench.batch_memory``, a process per file). Target: peak <= 2x decoded."""
    figures = []
    chunk = max(64 * 1024, round(MEMORY_CHUNK_BYTES * min(1.0, scale)))
    for fmt in FORMATS:
        for rows in (max(5_000, round(count * scale)) for count in MEMORY_ROWS):
            command = [sys.executable, "-m", "bench.batch_memory", str(model_dir), tabular.NAME, str(rows), fmt]
            command.append(str(chunk))
            done = subprocess.run(command, env=child_env(), capture_output=True, text=True, timeout=600, check=False)
            if done.returncode != 0:
                raise BenchError(f"batch memory ({fmt}, {rows:,} rows) failed: {done.stderr.strip()[-2000:]}")
            found = json.loads(done.stdout.strip().splitlines()[-1])
            figures.append(
                Figure(
                    name=f"batch worker peak memory, DataFrame pipeline, a {chunk / 1e6:.1g} MB chunk of a "
                    f"{found['file'] / 1e6:,.0f} MB {FORMATS[fmt]} file, against the chunk decoded",
                    ours=found["peak"] / 1e6,
                    baseline=found["decoded"] / 1e6,
                    unit="MB",
                    better="lower",
                    target=2.0,
                    context={"figure": "batch", "format": fmt, "rows": rows, **found},
                )
            )
    return figures


WORKERS_ROWS = 1_000_000
WORKERS_CHUNK_BYTES = 1024 * 1024  # 64 ranges, 16 calls: enough for the workers to share them evenly
JOBS = 3


def measure_workers(model: IrisModel, scratch: Path, *, scale: float = 1.0) -> Figure:
    """A 1,000,000-row CSV scored by the local stack with one batch worker, then with two: the job's time from its
    plan to its manifest, best of three jobs each, every answer checked against the model's predict. Target <= 0.6."""
    from local_stack.process import running_stack, wait_for_status

    rows = max(20_000, round(WORKERS_ROWS * scale))
    frame = _iris_frame(rows)
    data_file = scratch / "workers.csv"
    data_file.write_bytes(_file(frame, "csv"))
    expected = model.estimator.predict(frame.to_numpy()).tolist()
    model_file = scratch / f"{model.name}.joblib"
    model_file.write_bytes(joblib_bytes(model.estimator))
    seconds: dict[int, float] = {}
    for workers in (1, 2):
        env = {
            "ONNX_FAST_PATH": "true",
            "LOCAL_API_AUTHORIZATION": "NONE",
            "LOCAL_BATCH_WORKERS": str(workers),
            "BATCH_CHUNK_BYTES": str(WORKERS_CHUNK_BYTES),
        }
        with running_stack(scratch / f"workers-{workers}-efs", env=env) as stack:
            stack.aws("s3", "cp", "--no-progress", str(model_file), f"s3://{stack.bucket}/{model.name}.joblib")
            wait_for_status(f"{stack.inference_url}/v2/models/{model.name}/ready", 200, timeout=60, signed=False)
            seconds[workers] = min(_job_seconds(stack, model.name, data_file, job, expected) for job in range(JOBS))
    return Figure(
        name=f"batch: two local workers against one, a {rows:,}-row CSV (iris LR), the job from plan to manifest",
        ours=seconds[2],
        baseline=seconds[1],
        unit="s",
        better="lower",
        target=0.6,
        context={"figure": "batch", "rows": rows, "chunk_bytes": WORKERS_CHUNK_BYTES, "seconds": seconds},
    )


def _job_seconds(stack: Any, name: str, data_file: Path, job: int, expected: list[Any]) -> float:
    """One job on the stack: its key uploaded, the manifest waited for (polled, bounded), the answers checked."""
    s3 = stack.s3_client()
    key = f"job{job}.csv"
    with data_file.open("rb") as body:
        s3.put_object(Bucket=stack.data_bucket, Key=f"input/{name}/{key}", Body=body)
    manifest_key = f"output/{name}/1/{key}.manifest.json"
    for _ in range(3000):
        try:
            manifest = json.loads(s3.get_object(Bucket=stack.data_bucket, Key=manifest_key)["Body"].read())
            break
        except s3.exceptions.NoSuchKey:
            time.sleep(0.1)
    else:
        raise BenchError(f"batch workers: no manifest for {key}")
    # The job's own time, from its plan to its manifest: the stack's polling for the upload's event left out.
    took = datetime.fromisoformat(manifest["finished_at"]) - datetime.fromisoformat(manifest["started_at"])
    if manifest["status"] != "SUCCEEDED":
        raise BenchError(f"batch workers: the job failed: {manifest.get('reason')}")
    answers = s3.get_object(Bucket=stack.data_bucket, Key=f"output/{name}/1/{key}.out")["Body"].read().split()
    if [int(answer) for answer in answers[1:]] != expected:
        raise BenchError("batch workers: the answers differ from the model's predict")
    return took.total_seconds()
