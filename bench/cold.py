"""Cold figure: a fresh process that imports the inference handler and answers its first V2 request, against a
fresh process that only does ``import joblib; joblib.load(path).predict(row)``."""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from bench import tabular
from bench.cold_start import ANSWER_PREFIX
from bench.environment import PATH_NAMES, child_env, function_settings, lambda_logging
from bench.events import http_api_event, predict_output, served_runtime, v2_infer_event, v2_metadata_event
from bench.models import ONE_ROW, IrisModel
from bench.publishing import published_file
from bench.results import Figure
from bench.timing import BenchError, ChildRun, median, run_child

# The targets apply to both models: neither path may cost more than its bound over loading the pickle directly.
TARGETS = {False: 1.1, True: 0.4}
# The DataFrame pipeline's fast path (one graph input per column) against joblib.load + predict(DataFrame).
TABULAR_TARGETS = {False: 1.1, True: 0.3}
# XGBoost and LightGBM (100 trees) on the fast path against joblib.load + predict.
FAMILY_TARGET = 0.3
RUNS = 7
CHILD_TIMEOUT_SECONDS = 60.0
BASELINE_CODE = "import sys, joblib; print(joblib.load(sys.argv[1]).predict({row}).tolist())"
TABULAR_BASELINE_CODE = (
    "import sys, joblib, pandas; print(joblib.load(sys.argv[1]).predict(pandas.DataFrame({columns})).tolist())"
)


def measure_cold(
    model_dirs: Mapping[bool, Path], models: list[IrisModel], scratch: Path, *, runs: int = RUNS
) -> list[Figure]:
    figures = []
    row = tabular.training_frame(1)
    frame_code = TABULAR_BASELINE_CODE.format(columns={name: row[name].tolist() for name in row.columns})
    frame_event = http_api_event("POST", f"/v2/models/{tabular.NAME}/infer", tabular.per_column_request(row))
    for fast, model_dir in model_dirs.items():
        for model in models:
            event = v2_infer_event(model.name, ONE_ROW)
            code = BASELINE_CODE.format(row=ONE_ROW)
            figure = _measure(model_dir, fast, model.label, model.name, event, code, scratch, runs)
            figures.append(replace(figure, target=TARGETS[fast]))
        figure = _measure(model_dir, fast, "DataFrame pipeline", tabular.NAME, frame_event, frame_code, scratch, runs)
        figures.append(replace(figure, target=TABULAR_TARGETS[fast]))
    return figures


def measure_families(model_dir: Path, models: list[IrisModel], scratch: Path, *, runs: int = RUNS) -> list[Figure]:
    """XGBoost and LightGBM on the fast path (published into ``model_dir``) against joblib.load + predict."""
    figures = []
    for model in models:
        event = v2_infer_event(model.name, ONE_ROW)
        code = BASELINE_CODE.format(row=ONE_ROW)
        figure = _measure(model_dir, True, model.label, model.name, event, code, scratch, runs)
        figures.append(replace(figure, target=FAMILY_TARGET))
    return figures


def _measure(
    model_dir: Path,
    fast: bool,
    label: str,
    name: str,
    event: dict[str, Any],
    baseline_code: str,
    scratch: Path,
    runs: int,
) -> Figure:
    model_file = published_file(model_dir, name)
    infer = scratch / f"{name}-infer.json"
    metadata = scratch / f"{name}-metadata.json"
    infer.write_text(json.dumps(event), encoding="utf-8")
    metadata.write_text(json.dumps(v2_metadata_event(name)), encoding="utf-8")
    env = child_env({**function_settings(model_dir, fast), **lambda_logging("inference")})
    ours_command = [sys.executable, "-m", "bench.cold_start", str(infer)]
    baseline_command = [sys.executable, "-c", baseline_code, str(model_file)]
    what = f"cold {label} {PATH_NAMES[fast]}"

    # Untimed probe runs: they check both answers agree, learn which runtime answered, and warm the page cache
    # and bytecode caches for both sides alike.
    probe = run_child([*ours_command, str(metadata)], env, timeout=CHILD_TIMEOUT_SECONDS, what=what)
    answers = child_answers(probe)
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
        name=f"cold {label}, {PATH_NAMES[fast]}, served by {runtime}",
        ours=median(ours),
        baseline=median(baseline),
        unit="s (median)",
        target=None,
        context={
            "figure": "cold",
            "model": label,
            "onnx_fast_path": fast,
            "runtime": runtime,
            "runs": runs,
            "ours_seconds": [round(value, 4) for value in ours],
            "baseline_seconds": [round(value, 4) for value in baseline],
        },
    )


def child_answers(run: ChildRun) -> list[dict[str, Any]]:
    """The answers a ``bench.cold_start`` child printed, in order."""
    return [
        json.loads(line[len(ANSWER_PREFIX) :]) for line in run.stdout.splitlines() if line.startswith(ANSWER_PREFIX)
    ]
