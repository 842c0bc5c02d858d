"""Loader figure: publishing a large model from S3 (moto on loopback) against ``aws s3 cp`` of the same object.

The model is a brute-force KNN that keeps its 512 MiB of training data (4,194,304 x 16 float64) and its labels:
about 570 MB as an uncompressed joblib file.

Both sides are fresh processes timed from start to exit, so each pays its own imports; the loader's invocation
alone is recorded beside it. Both run under ``bench.measured``, which reports each one's own peak RSS.
"""

from __future__ import annotations

import gc
import json
import shutil
import sys
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from bench.environment import child_env, function_settings, lambda_logging
from bench.publishing import BUCKET, created_event, published_file, s3_client
from bench.results import Figure
from bench.timing import BenchError, median, run_child

NAME = "large-knn"
KEY = f"{NAME}.joblib"
ROWS = 4_194_304
FEATURES = 16  # 4,194,304 x 16 float64 = 512 MiB of training data, which a brute-force KNN keeps whole
PAIRS = 3
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
    peak_bytes: int
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
    event_file = scratch / "large-event.json"
    aws_config = scratch / "aws-config"
    aws_config.write_text(AWS_CONFIG, encoding="utf-8")
    try:
        ours: list[Sample] = []
        cli: list[Sample] = []
        for attempt in range(pairs):
            event_file.write_text(json.dumps(created_event(KEY, put, size)), encoding="utf-8")
            ours.append(_loader_run(endpoint, scratch / f"loader-efs-{attempt}", event_file, size))
            cli.append(_cli_run(endpoint, scratch / "aws-copy.joblib", aws_config, size))
    finally:
        s3.delete_object(Bucket=BUCKET, Key=KEY)
    return _figures(ours, cli, size)


def _loader_run(endpoint: str, model_dir: Path, event_file: Path, size: int) -> Sample:
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
    return Sample(result["seconds"], result["peak_rss_bytes"], run.stdout, {})


def _figures(ours: list[Sample], cli: list[Sample], size: int) -> list[Figure]:
    ours_seconds = [sample.seconds for sample in ours]
    cli_seconds = [sample.seconds for sample in cli]
    context = {"figure": "loader", "object_bytes": size, "pairs": len(ours), "onnx_fast_path": True}
    throughput = Figure(
        name=f"loader throughput, {size / MB:,.0f} MB model",
        ours=size / MB / median(ours_seconds),
        baseline=size / MB / median(cli_seconds),
        unit="MB/s",
        better="higher",
        target=THROUGHPUT_TARGET,
        context={
            **context,
            "baseline_command": "aws s3 cp (one GET: multipart_threshold above the object's size)",
            "ours_seconds": [round(value, 3) for value in ours_seconds],
            "baseline_seconds": [round(value, 3) for value in cli_seconds],
            "ours_invocation_seconds": [round(sample.detail["invocation_seconds"], 3) for sample in ours],
        },
    )
    memory = Figure(
        name="loader peak memory",
        ours=median([sample.peak_bytes for sample in ours]) / MB,
        baseline=median([sample.peak_bytes for sample in cli]) / MB,
        unit="MB",
        target=PEAK_TARGET_MB,
        target_of="ours",
        context={
            **context,
            "measure": "peak RSS of the process (ru_maxrss); baseline: aws s3 cp",
            "ours_vm_hwm_mb": [round(sample.detail["vm_hwm_bytes"] / MB, 1) for sample in ours],
        },
    )
    return [throughput, memory]
