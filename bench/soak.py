"""``python -m bench.soak`` (``make soak``, about a minute, not part of ``make test``): the local stack under churn.

Fifty forests are published, then, round after round (a fixed count), some are republished as new versions, some
old versions deleted, and every model is asked once, with a model cache far smaller than the models' total. The
inference function's process (its own worker, apart from the loader's) has its resident memory sampled after each
round. It prints the requests, the 5xx answers (there must be none), the cache's evictions and the RSS per round,
and exits non-zero on any 5xx or when RSS keeps growing (the last round above the mid-run level by more than
``GROWTH_ALLOWED``).
"""

from __future__ import annotations

import io
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import boto3
import joblib
import numpy as np
from sklearn.datasets import load_iris
from sklearn.ensemble import RandomForestClassifier

from bench.events import v2_request
from local_stack.moto_server import FAKE_CREDENTIALS
from local_stack.process import StackProcess, http_request, running_stack, wait_for_status

MODELS = 50
ROUNDS = 30
REPUBLISH_PER_ROUND = 6
DELETE_PER_ROUND = 3
CACHE_BYTES = 3 * 1024 * 1024  # about a third of the fifty forests' loaded size
GROWTH_ALLOWED = 1.15
ROWS = load_iris().data[::25].tolist()


def forest(seed: int) -> bytes:
    features, labels = load_iris(return_X_y=True)
    model = RandomForestClassifier(n_estimators=30, random_state=seed).fit(features, labels)
    buffer = io.BytesIO()
    joblib.dump(model, buffer, compress=3)
    return buffer.getvalue()


def resident_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def main() -> int:
    started = time.monotonic()
    blobs = [forest(seed) for seed in range(4)]  # four distinct forests, rotated over the fifty names
    names = [f"forest-{index:02d}" for index in range(MODELS)]
    latest = dict.fromkeys(names, 1)
    published: dict[str, list[int]] = {name: [1] for name in names}
    totals = {"requests": 0, "5xx": 0, "other_errors": 0}
    table = []
    env = {"MODEL_CACHE_MAX_BYTES": str(CACHE_BYTES), "MODEL_REFRESH_SECONDS": "1", "ONNX_FAST_PATH": "false"}
    with tempfile.TemporaryDirectory(prefix="soak-") as scratch, running_stack(Path(scratch), env=env) as stack:
        s3 = _s3(stack)
        for index, name in enumerate(names):
            s3.put_object(Bucket=stack.bucket, Key=f"{name}/1/model.joblib", Body=blobs[index % len(blobs)])
        for name in names:
            wait_for_status(f"{stack.inference_url}/v2/models/{name}/versions/1/ready", 200, timeout=120)
        rng = np.random.default_rng(0)
        for round_number in range(1, ROUNDS + 1):
            for name in rng.choice(names, REPUBLISH_PER_ROUND, replace=False):
                latest[name] += 1
                key = f"{name}/{latest[name]}/model.joblib"
                s3.put_object(Bucket=stack.bucket, Key=key, Body=blobs[int(rng.integers(len(blobs)))])
                published[name].append(latest[name])
            for name in rng.choice(names, DELETE_PER_ROUND, replace=False):
                if len(published[name]) > 1:  # an old version goes; the latest keeps serving
                    version = published[name].pop(0)
                    s3.delete_object(Bucket=stack.bucket, Key=f"{name}/{version}/model.joblib")
            errors = _ask_every_model(stack, names, totals)
            inference_pid = stack.function_pids.get("inference", stack.process.pid)
            table.append((round_number, resident_mb(inference_pid), errors, _evictions(stack)))
            print(f"round {round_number:2d}: RSS {table[-1][1]:7.1f} MB, errors {errors}, evictions {table[-1][3]}")
    elapsed = time.monotonic() - started
    print(f"\nsoak: {MODELS} models, {ROUNDS} rounds, {elapsed:.0f} s; cache bound {CACHE_BYTES / 1e6:.1f} MB")
    print(f"requests {totals['requests']}, 5xx {totals['5xx']}, other errors {totals['other_errors']}")
    print("round | RSS MB | errors | evictions so far")
    for round_number, rss, errors, evictions in table:
        print(f"{round_number:5d} | {rss:6.1f} | {errors:6d} | {evictions}")
    middle, last = table[len(table) // 2][1], table[-1][1]
    levelled = last <= middle * GROWTH_ALLOWED
    print(f"RSS high-water mark {max(row[1] for row in table):.1f} MB; levelled off: {levelled}")
    return 0 if totals["5xx"] == 0 and levelled else 1


def _s3(stack: StackProcess) -> Any:
    return boto3.client(
        "s3",
        endpoint_url=stack.s3_endpoint,
        region_name=stack.region,
        aws_access_key_id=FAKE_CREDENTIALS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=FAKE_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        aws_session_token=FAKE_CREDENTIALS["AWS_SESSION_TOKEN"],
    )


def _ask_every_model(stack: StackProcess, names: list[str], totals: dict[str, int]) -> int:
    errors = 0
    for name in names:
        answer = http_request("POST", f"{stack.inference_url}/v2/models/{name}/infer", v2_request(ROWS))
        totals["requests"] += 1
        if answer.status >= 500:
            totals["5xx"] += 1
            errors += 1
            print(f"  {name}: {answer.status} {answer.body[:200]!r}", file=sys.stderr)
        elif answer.status != 200:
            totals["other_errors"] += 1
            errors += 1
    return errors


def _evictions(stack: StackProcess) -> int:
    text = stack.log_path.read_text(encoding="utf-8", errors="replace")
    return sum(1 for line in text.splitlines() if "model evicted from the cache" in line and line.startswith("{"))


if __name__ == "__main__":
    sys.exit(main())
