"""Loader figure: publishing a large model from S3 (moto on loopback) against ``aws s3 cp`` of the same object.

The model is a brute-force KNN that keeps its 512 MiB of training data (4,194,304 x 16 float64) and its labels:
about 570 MB as an uncompressed joblib file.

Each pair runs the loader twice. A warm loader first handles a small model's upload, as a deployed loader has handled
earlier ones (its libraries imported, scikit-learn above all), then the large one: the throughput figure compares that
publish, from the handler's call to its return, with an ``aws s3 cp`` process from start to exit (its own start-up
included, so the CLI is charged about 0.3 s the loader is not, of its ~1.2 s here). A fresh loader handles only the
large upload: the peak of the memory it allocates is the memory figure; its peak RSS, and its whole process time
(every import included), are context rows. Its RSS counts the model's pages as well: the loader checks that the model
answers, and a brute-force KNN reads all its training data, through the memory map, to answer. Before every run the
page cache is synced, untimed: the CLI never fsyncs, and its 570 MB of dirty pages would otherwise be written back on
the next run's clock. Both run under ``bench.measured``, which reports each one's own peak RSS and peak anonymous
memory.
"""

from __future__ import annotations

import gc
import json
import os
import shutil
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from bench.environment import child_env, function_settings, lambda_logging
from bench.models import joblib_bytes, train_iris_models
from bench.publishing import BUCKET, created_event, published_file, s3_client
from bench.results import Figure
from bench.timing import BenchError, median, run_child

NAME = "large-knn"
KEY = f"{NAME}.joblib"
WARM_UP_KEY = "warm-up.joblib"
ROWS = 4_194_304
FEATURES = 16  # 4,194,304 x 16 float64 = 512 MiB of training data, which a brute-force KNN keeps whole
PAIRS = 6
THROUGHPUT_TARGET = 0.9
PEAK_TARGET_MB = 200.0
CHILD_TIMEOUT_SECONDS = 300.0
MB = 1_000_000
# The CLI downloads objects above its multipart threshold as parallel ranged GETs. moto reads the whole object
# for every ranged GET, which would make the CLI many times slower here than on S3; one GET, as the loader makes,
# compares the two transfers rather than moto's range handling.
AWS_CONFIG = "[default]\ns3 =\n  multipart_threshold = 4GB\n"


@dataclass(frozen=True)
class Sample:
    seconds: float
    peak_bytes: int  # peak RSS, the model file's pages read through its memory map included
    anonymous_bytes: int  # peak of the memory the process allocated (sampled)
    output: str
    detail: dict[str, Any]


def build_large_model(path: Path, rows: int = ROWS, features: int = FEATURES) -> None:
    """A KNeighborsClassifier (brute force) fitted on random data and saved uncompressed: it loads as a model."""
    import joblib
    import numpy as np
    from sklearn.neighbors import KNeighborsClassifier

    generator = np.random.default_rng(0)
    data = generator.random((rows, features))
    labels = generator.integers(0, 2, rows)
    model = KNeighborsClassifier(algorithm="brute").fit(data, labels)
    joblib.dump(model, path)
    del model, data, labels
    gc.collect()


def measure_loader(endpoint: str, scratch: Path, *, rows: int = ROWS, pairs: int = PAIRS) -> list[Figure]:
    """Upload one large model, then alternate loader and CLI downloads of it; the files they write are removed."""
    s3 = s3_client(endpoint)
    source = scratch / "large-model.joblib"
    build_large_model(source, rows)
    size = source.stat().st_size
    with source.open("rb") as body:
        put = s3.put_object(Bucket=BUCKET, Key=KEY, Body=body)
    source.unlink()
    small = joblib_bytes(train_iris_models()[0].estimator)
    warm_up_put = s3.put_object(Bucket=BUCKET, Key=WARM_UP_KEY, Body=small)
    event_file = scratch / "large-event.json"
    warm_up_file = scratch / "warm-up-event.json"
    aws_config = scratch / "aws-config"
    aws_config.write_text(AWS_CONFIG, encoding="utf-8")
    try:
        warm_runs: list[Sample] = []
        fresh_runs: list[Sample] = []
        cli: list[Sample] = []
        for attempt in range(pairs):
            event_file.write_text(json.dumps(created_event(KEY, put, size)), encoding="utf-8")
            warm_up_file.write_text(json.dumps(created_event(WARM_UP_KEY, warm_up_put, len(small))), encoding="utf-8")
            warm, fresh = scratch / f"loader-warm-{attempt}", scratch / f"loader-fresh-{attempt}"

            def run_warm(efs: Path = warm) -> None:
                warm_runs.append(_loader_run(endpoint, efs, event_file, size, warm_up_file))

            def run_fresh(efs: Path = fresh) -> None:
                fresh_runs.append(_loader_run(endpoint, efs, event_file, size))

            def run_cli() -> None:
                cli.append(_cli_run(endpoint, scratch / "aws-copy.joblib", aws_config, size))

            runs: list[Callable[[], None]] = [run_warm, run_fresh, run_cli]
            for run in runs[attempt % 3 :] + runs[: attempt % 3]:  # each goes first in a third of the pairs
                os.sync()
                run()
    finally:
        s3.delete_object(Bucket=BUCKET, Key=KEY)
        s3.delete_object(Bucket=BUCKET, Key=WARM_UP_KEY)
    return _figures(warm_runs, fresh_runs, cli, size)


def _loader_run(
    endpoint: str, model_dir: Path, event_file: Path, size: int, warm_up_file: Path | None = None
) -> Sample:
    result_file = model_dir.with_suffix(".result.json")
    env = child_env(
        {
            **function_settings(model_dir, True),
            **lambda_logging("loader"),
            "AWS_ENDPOINT_URL_S3": endpoint,
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "1024",
        }
    )
    command = [sys.executable, "-m", "bench.loader_child", str(event_file), str(result_file)]
    if warm_up_file is not None:
        command.append(str(warm_up_file))
    try:
        run = _measured(command, env, "loader")
        result = json.loads(result_file.read_text(encoding="utf-8"))
        if result["counts"].get("published") != 1:
            raise BenchError(f"the loader did not publish the large model: {result['counts']}\n{run.output[-2000:]}")
        if published_file(model_dir, NAME).stat().st_size != size:
            raise BenchError("the loader published a file of another size than the object")
    finally:
        shutil.rmtree(model_dir, ignore_errors=True)
        result_file.unlink(missing_ok=True)
    detail = {"invocation_seconds": result["invocation_seconds"], "vm_hwm_bytes": result["vm_hwm_bytes"]}
    return replace(run, detail=detail)


def _cli_run(endpoint: str, target: Path, config: Path, size: int) -> Sample:
    aws = Path(sys.executable).parent / "aws"
    command = [str(aws), "--endpoint-url", endpoint, "s3", "cp", "--no-progress", f"s3://{BUCKET}/{KEY}", str(target)]
    try:
        run = _measured(command, child_env({"AWS_CONFIG_FILE": str(config)}), "aws s3 cp")
        if target.stat().st_size != size:
            raise BenchError(f"aws s3 cp wrote {target.stat().st_size} bytes, the object has {size}")
    finally:
        target.unlink(missing_ok=True)
    return run


def _measured(command: list[str], env: dict[str, str], what: str) -> Sample:
    with tempfile.TemporaryDirectory(prefix="measured-") as scratch:
        result_file = Path(scratch) / "result.json"
        wrapped = [sys.executable, "-m", "bench.measured", str(result_file), *command]
        run = run_child(wrapped, env, timeout=CHILD_TIMEOUT_SECONDS, what=what)
        result = json.loads(result_file.read_text(encoding="utf-8"))
    return Sample(result["seconds"], result["peak_rss_bytes"], result["peak_anonymous_bytes"], run.stdout, {})


def _figures(warm: list[Sample], fresh: list[Sample], cli: list[Sample], size: int) -> list[Figure]:
    warm_seconds = [sample.detail["invocation_seconds"] for sample in warm]
    fresh_seconds = [sample.seconds for sample in fresh]
    cli_seconds = [sample.seconds for sample in cli]
    context = {"figure": "loader", "object_bytes": size, "pairs": len(warm), "onnx_fast_path": True}
    baseline = {
        "baseline_command": "aws s3 cp (one GET: multipart_threshold above the object's size), start to exit",
        "baseline_seconds": [round(value, 3) for value in cli_seconds],
    }
    cli_peak = median([sample.peak_bytes for sample in cli]) / MB
    return [
        Figure(
            name=f"loader throughput, {size / MB:,.0f} MB model, warm function",
            ours=size / MB / median(warm_seconds),
            baseline=size / MB / median(cli_seconds),
            unit="MB/s",
            better="higher",
            target=THROUGHPUT_TARGET,
            context={**context, **baseline, "ours_seconds": [round(value, 3) for value in warm_seconds]},
        ),
        Figure(
            name=f"loader throughput, {size / MB:,.0f} MB model, whole new process",
            ours=size / MB / median(fresh_seconds),
            baseline=size / MB / median(cli_seconds),
            unit="MB/s",
            better="higher",
            context={
                **context,
                **baseline,
                "ours_seconds": [round(value, 3) for value in fresh_seconds],
                "includes": "interpreter start and every import, scikit-learn's above all",
            },
        ),
        Figure(
            name=f"loader peak memory, {size / MB:,.0f} MB model, new process",
            ours=median([sample.anonymous_bytes for sample in fresh]) / MB,
            baseline=median([sample.anonymous_bytes for sample in cli]) / MB,
            unit="MB",
            target=PEAK_TARGET_MB,
            target_of="ours",
            context={
                **context,
                "measure": "peak anonymous memory of the process (RssAnon, sampled every 2 ms): what it allocates; "
                "baseline: aws s3 cp",
            },
        ),
        Figure(
            name=f"loader peak RSS, {size / MB:,.0f} MB model, new process",
            ours=median([sample.peak_bytes for sample in fresh]) / MB,
            baseline=cli_peak,
            unit="MB",
            target_of="ours",
            context={
                **context,
                "measure": "peak RSS of the process (ru_maxrss), the model file's pages included: checking that "
                "the model answers reads it through its memory map, and those clean pages are the kernel's to drop; "
                "baseline: aws s3 cp",
            },
        ),
        Figure(
            name=f"loader peak RSS, {size / MB:,.0f} MB model, warm function",
            ours=median([sample.peak_bytes for sample in warm]) / MB,
            baseline=cli_peak,
            unit="MB",
            target_of="ours",
            context={
                **context,
                "measure": "peak RSS of the process (ru_maxrss), a small model's conversion to ONNX first, so the "
                "converter's libraries are loaded; baseline: aws s3 cp",
            },
        ),
    ]
