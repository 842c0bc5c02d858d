"""Runs the chosen figures in order, each with what it needs started before it and stopped after it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench import batch, cold, loader, serving, stack_rps, tabular, warm
from bench.environment import function_settings
from bench.models import IrisModel, family_sample, joblib_bytes, train_family_models, train_iris_models
from bench.publishing import BUCKET, publish, s3_client
from bench.results import Figure
from local_stack.moto_server import moto_server

Progress = Callable[[str], None]


@dataclass(frozen=True)
class Plan:
    warm_scale: float = 1.0
    cold_runs: int = cold.RUNS
    loader_rows: int = loader.ROWS
    loader_pairs: int = loader.PAIRS
    stack_seconds: float = stack_rps.SECONDS
    delivery_requests: int = serving.DELIVERY_REQUESTS

    @classmethod
    def quick(cls) -> Plan:
        """Every code path with little work: checks the harness, not the functions."""
        return cls(
            warm_scale=0.02, cold_runs=1, loader_rows=65_536, loader_pairs=1, stack_seconds=1.0, delivery_requests=400
        )


def run(only: list[str], plan: Plan, scratch: Path, progress: Progress) -> list[Figure]:
    progress("training the iris models")
    models = train_iris_models()
    figures: list[Figure] = []
    if {"warm", "cold", "loader", "serving", "batch"} & set(only):
        with moto_server() as endpoint:
            figures += _figures_from_s3(endpoint, only, plan, models, scratch, progress)
    if "stack" in only:
        progress(f"local stack: {stack_rps.CLIENTS} keep-alive clients")
        figure = stack_rps.measure_local_stack(models[0], scratch, seconds=plan.stack_seconds)
        figures += _reported([figure], progress)
    if "batch" in only:
        progress("batch: a 1,000,000-row CSV through the local stack with one batch worker, then two")
        figures += _reported([batch.measure_workers(models[0], scratch, scale=plan.warm_scale)], progress)
    if "serving" in only:
        progress(f"serving: capture at 100 % over {plan.delivery_requests:,} requests through the local stack")
        delivered = serving.measure_capture_delivery(models[0], scratch, requests=plan.delivery_requests)
        figures += _reported([delivered], progress)
    return figures


def _figures_from_s3(
    endpoint: str, only: list[str], plan: Plan, models: list[IrisModel], scratch: Path, progress: Progress
) -> list[Figure]:
    """The figures whose models come from S3: all but the local stack's, which has an S3 of its own."""
    s3 = s3_client(endpoint)
    s3.create_bucket(Bucket=BUCKET)
    figures: list[Figure] = []
    if {"warm", "cold", "batch"} & set(only):
        progress("publishing them through the loader, with ONNX_FAST_PATH false and true")
        model_dirs = _publish_iris(s3, models, scratch)
    if "batch" in only:
        progress("batch: one worker on a CSV chunk, against pandas.read_csv + predict + to_csv")
        figures += _reported(batch.measure_batch(model_dirs[True], models, scale=plan.warm_scale), progress)
        progress("batch: a worker's peak memory on one chunk of a small file and of one eight times larger")
        figures += _reported(batch.measure_memory(model_dirs[True], scale=plan.warm_scale), progress)
    if "warm" in only or "cold" in only:
        progress("training XGBoost and LightGBM (100 trees) and publishing them with a sample, on the fast path")
        families = train_family_models()
        _publish_families(s3, families, model_dirs[True])
        if "warm" in only:
            progress("warm: handler against model.predict, in process")
            figures += _reported(warm.measure_warm(model_dirs, models, scale=plan.warm_scale), progress)
            progress("warm: a DataFrame pipeline asked with one V2 input per column, against pipeline.predict")
            figures += _reported(tabular.measure_tabular(model_dirs, scale=plan.warm_scale), progress)
            progress("warm: XGBoost and LightGBM on the fast path, against model.predict")
            figures += _reported(warm.measure_families(model_dirs[True], families, scale=plan.warm_scale), progress)
        if "cold" in only:
            progress("cold: fresh processes, handler against joblib.load + predict")
            figures += _reported(cold.measure_cold(model_dirs, models, scratch, runs=plan.cold_runs), progress)
            progress("cold: XGBoost and LightGBM on the fast path")
            cold_families = cold.measure_families(model_dirs[True], families, scratch, runs=plan.cold_runs)
            figures += _reported(cold_families, progress)
    if "serving" in only:
        progress("serving: routing and capture against no settings, and the shares drawn, in process")
        serving_dir = scratch / "efs-serving"
        serving.publish_serving_models(s3, models[0], serving_dir)
        figures += _reported(serving.measure_serving(s3, serving_dir, scale=plan.warm_scale), progress)
    if "loader" in only:
        progress("loader: building and uploading the large model, then loader against aws s3 cp")
        large = loader.measure_loader(endpoint, scratch, rows=plan.loader_rows, pairs=plan.loader_pairs)
        figures += _reported(large, progress)
    return figures


def _publish_iris(s3: Any, models: list[IrisModel], scratch: Path) -> dict[bool, Path]:
    blobs = {model.name: joblib_bytes(model.estimator) for model in models}
    blobs[tabular.NAME] = joblib_bytes(tabular.train_pipeline())
    model_dirs = {False: scratch / "efs-scikit-learn-path", True: scratch / "efs-fast-path"}
    for fast, model_dir in model_dirs.items():
        publish(s3, blobs, function_settings(model_dir, fast))
    return model_dirs


def _publish_families(s3: Any, families: list[IrisModel], model_dir: Path) -> None:
    blobs = {model.name: joblib_bytes(model.estimator) for model in families}
    publish(s3, blobs, function_settings(model_dir, True), samples=dict.fromkeys(blobs, family_sample()))


def _reported(figures: list[Figure], progress: Progress) -> list[Figure]:
    for figure in figures:
        ratio = "-" if figure.ratio is None else f"{figure.ratio:.3f}"
        progress(f"  {figure.name}: ratio {ratio}")
    return figures
