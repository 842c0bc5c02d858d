"""Cold figure: a fresh process that imports the inference handler and answers its first V2 request, against a
fresh process that only does ``import joblib; joblib.load(path).predict(row)``."""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from bench.cold_start import ANSWER_PREFIX
from bench.environment import PATH_NAMES, child_env, function_settings, lambda_logging
from bench.events import predict_output, served_runtime, v2_infer_event, v2_metadata_event
from bench.models import ONE_ROW, IrisModel
from bench.publishing import published_file
from bench.results import Figure
from bench.timing import BenchError, ChildRun, median, run_child

# The targets apply to both models: neither path may cost more than its bound over loading the pickle directly.
TARGETS = {False: 1.1, True: 0.4}
RUNS = 7
CHILD_TIMEOUT_SECONDS = 60.0
BASELINE_CODE = "import sys, joblib; print(joblib.load(sys.argv[1]).predict({row}).tolist())"


def measure_cold(
    model_dirs: Mapping[bool, Path], models: list[IrisModel], scratch: Path, *, runs: int = RUNS
) -> list[Figure]:
    figures = []
    for fast, model_dir in model_dirs.items():
        for model in models:
            figures.append(_measure(model_dir, fast, model, scratch, runs))
    return figures


def _measure(model_dir: Path, fast: bool, model: IrisModel, scratch: Path, runs: int) -> Figure:
    model_file = published_file(model_dir, model.name)
    infer = scratch / f"{model.name}-infer.json"
    metadata = scratch / f"{model.name}-metadata.json"
    infer.write_text(json.dumps(v2_infer_event(model.name, ONE_ROW)), encoding="utf-8")
    metadata.write_text(json.dumps(v2_metadata_event(model.name)), encoding="utf-8")
    env = child_env({**function_settings(model_dir, fast), **lambda_logging("inference")})
    ours_command = [sys.executable, "-m", "bench.cold_start", str(infer)]
    baseline_command = [sys.executable, "-c", BASELINE_CODE.format(row=ONE_ROW), str(model_file)]
    what = f"cold {model.label} {PATH_NAMES[fast]}"

    # Untimed probe runs: they check both answers agree, learn which runtime answered, and warm the page cache
    # and bytecode caches for both sides alike.
    probe = run_child([*ours_command, str(metadata)], env, timeout=CHILD_TIMEOUT_SECONDS, what=what)
    answers = _answers(probe)
    expected = run_child(baseline_command, env, timeout=CHILD_TIMEOUT_SECONDS, what=f"{what} baseline")
    try:
        agree = len(answers) == 2 and predict_output(answers[0]) == json.loads(expected.stdout.strip())
    except ValueError:
        agree = False
    if not agree:
        raise BenchError(f"{what}: the handler answered {answers}, the baseline {expected.stdout.strip()}")
    runtime = served_runtime(answers[1])

    ours: list[float] = []
    baseline: list[float] = []
    for _ in range(runs):
        ours.append(run_child(ours_command, env, timeout=CHILD_TIMEOUT_SECONDS, what=what).seconds)
        baseline.append(
            run_child(baseline_command, env, timeout=CHILD_TIMEOUT_SECONDS, what=f"{what} baseline").seconds
        )
    return Figure(
        name=f"cold {model.label}, {PATH_NAMES[fast]}, served by {runtime}",
        ours=median(ours),
        baseline=median(baseline),
        unit="s (median)",
        target=TARGETS[fast],
        context={
            "figure": "cold",
            "model": model.label,
            "onnx_fast_path": fast,
            "runtime": runtime,
            "runs": runs,
            "ours_seconds": [round(value, 4) for value in ours],
            "baseline_seconds": [round(value, 4) for value in baseline],
        },
    )


def _answers(run: ChildRun) -> list[dict[str, Any]]:
    return [
        json.loads(line[len(ANSWER_PREFIX) :]) for line in run.stdout.splitlines() if line.startswith(ANSWER_PREFIX)
    ]
