"""Serving-settings figures: what routing by weights and capturing requests cost on the 1-row fast path, how close
drawn shares come to the weights, and whether every captured record reaches the data bucket through the local stack.

The timed figures compare one model with settings against the same model without, both published by the loader
(the same LR file under two names, each with versions 1 and 2), answered by the handler in this process in
interleaved blocks. The shares are counted over 10,000 requests drawn without a route key. The delivery figure sends
10,000 requests through ``make serve``'s stack with capture at 100 % and counts the records in its data bucket.
"""

from __future__ import annotations

import contextlib
import functools
import http.client
import io
import json
import shutil
import threading
import time
from collections import Counter
from collections.abc import Mapping
from pathlib import Path
from types import ModuleType
from typing import Any
from urllib.parse import urlsplit

from bench.environment import function_settings, lambda_logging, overlay
from bench.events import v2_infer_event, v2_request
from bench.models import ONE_ROW, IrisModel, joblib_bytes
from bench.publishing import BUCKET, created_event, publish
from bench.results import Figure
from bench.timing import BenchError, interleaved, median
from lambdas.common.repository import version_dir
from lambdas.common.settings import Settings
from lambdas.loader.process import Status, process_event
from local_stack.lambda_context import LocalLambdaContext
from local_stack.process import StackProcess, running_stack, wait_for_status

MICROSECONDS = 1e6
ITERATIONS = 3000
SHARE_REQUESTS = 10_000
DELIVERY_REQUESTS = 10_000
DELIVERY_CLIENTS = 4
# Settings under test, each on a model of its own, against PLAIN (no settings).
PLAIN = "serving-plain"
VARIANTS: dict[str, tuple[dict[str, Any], float, str]] = {
    "serving-routed": ({"traffic": {"1": 90, "2": 10}}, 1.02, "routing by weights (90/10 over two versions)"),
    "serving-capture-all": ({"capture": {"percent": 100}}, 1.10, "capture at 100 %"),
    "serving-capture-none": ({"capture": {"percent": 0}}, 1.01, "capture at 0 %"),
}


def publish_serving_models(s3: Any, model: IrisModel, model_dir: Path) -> None:
    """The LR model under each variant's name (versions 1 and 2) and its settings, through the loader."""
    env = function_settings(model_dir, True)
    names = [PLAIN, *VARIANTS, "serving-shares"]
    publish(s3, dict.fromkeys(names, joblib_bytes(model.estimator)), env)
    for name in names:  # version 2: the same bytes the loader published as version 1
        shutil.copytree(version_dir(model_dir, name, 1), version_dir(model_dir, name, 2))
    for name, (settings, _, _) in VARIANTS.items():
        _publish_settings(s3, name, settings, env)


def _publish_settings(s3: Any, name: str, settings: Mapping[str, Any], env: Mapping[str, str]) -> None:
    key = f"{name}/serving.json"
    body = json.dumps(settings).encode()
    with overlay(env):
        put = s3.put_object(Bucket=BUCKET, Key=key, Body=body)
        outcome = process_event(s3, created_event(key, put, len(body)), Settings.from_env(env)).outcomes[0]
    if outcome.status is not Status.PUBLISHED:
        raise BenchError(f"the loader did not publish {key}: {outcome.reason}")


def measure_serving(s3: Any, model_dir: Path, *, scale: float = 1.0) -> list[Figure]:
    from lambdas.inference import handler

    env = function_settings(model_dir, True)
    context: Any = LocalLambdaContext("inference")
    figures = []
    with overlay(env):
        handler.configure(Settings.from_env(env))
        try:
            plain = v2_infer_event(PLAIN, ONE_ROW)
            iterations = max(20, round(ITERATIONS * scale))
            for name, (_, target, what) in VARIANTS.items():
                event = v2_infer_event(name, ONE_ROW)
                _check(handler, event, context)
                ours, baseline = interleaved(
                    functools.partial(handler.lambda_handler, event, context),
                    functools.partial(handler.lambda_handler, plain, context),
                    iterations,
                    warmup=max(2, iterations // 10),
                )
                figures.append(
                    Figure(
                        name=f"serving: {what}, LR 1 row, fast path, against no settings",
                        ours=median(ours) * MICROSECONDS,
                        baseline=median(baseline) * MICROSECONDS,
                        unit="us (p50)",
                        target=target,
                        context={"figure": "serving", "settings": VARIANTS[name][0], "iterations": iterations},
                    )
                )
            figures += _shares(s3, handler, context, env, max(200, round(SHARE_REQUESTS * scale)))
        finally:
            handler.configure(Settings.from_env())
    return figures


def _shares(s3: Any, handler: ModuleType, context: Any, env: Mapping[str, str], requests: int) -> list[Figure]:
    """Version 2's share at a 90/10 split, and the captured share at 10 %, over ``requests`` requests each."""
    name = "serving-shares"
    _publish_settings(s3, name, {"traffic": {"1": 90, "2": 10}, "capture": {"percent": 10}}, env)
    event = v2_infer_event(name, ONE_ROW)
    versions: Counter[str] = Counter()
    log_stream = io.StringIO()  # the function's output, where its capture records go
    with contextlib.redirect_stdout(log_stream):
        for _ in range(requests):
            response = handler.lambda_handler(event, context)
            versions[response["headers"]["X-Model-Version"]] += 1
    captured = sum(line.startswith('{"captureData"') for line in log_stream.getvalue().splitlines())
    share = versions["2"] * 100 / requests
    captured_share = captured * 100 / requests
    return [
        Figure(
            name=f"serving: a 90/10 split over {requests:,} requests, points from 10 % (version 2 took {share:.2f} %)",
            ours=abs(share - 10),
            baseline=None,
            unit="points",
            target=1.5,
            target_of="ours",
            context={"figure": "serving", "requests": requests, "share_percent": share},
        ),
        Figure(
            name=f"serving: capture at 10 % over {requests:,} requests, points from 10 % ({captured_share:.2f} %)",
            ours=abs(captured_share - 10),
            baseline=None,
            unit="points",
            target=1.0,
            target_of="ours",
            context={"figure": "serving", "requests": requests, "captured_percent": captured_share},
        ),
    ]


def _check(handler: ModuleType, event: dict[str, Any], context: Any) -> None:
    response = handler.lambda_handler(event, context)
    if response["statusCode"] != 200:
        raise BenchError(f"{event['rawPath']} answered {response['statusCode']}: {response['body'][:200]}")


def measure_capture_delivery(model: IrisModel, scratch: Path, *, requests: int = DELIVERY_REQUESTS) -> Figure:
    """Every record the design promises arrives: ``requests`` requests at capture 100 % through the local stack."""
    model_file = scratch / f"{model.name}.joblib"
    model_file.write_bytes(joblib_bytes(model.estimator))
    settings_file = scratch / "serving.json"
    settings_file.write_text(json.dumps({"capture": {"percent": 100}}))
    env = {"ONNX_FAST_PATH": "true", **lambda_logging("inference"), "LOCAL_API_AUTHORIZATION": "NONE"}
    with running_stack(scratch / "capture-efs", env=env) as stack:
        stack.aws("s3", "cp", "--no-progress", str(model_file), f"s3://{stack.bucket}/{model.name}.joblib")
        wait_for_status(f"{stack.inference_url}/v2/models/{model.name}/ready", 200, timeout=60, signed=False)
        stack.aws("s3", "cp", "--no-progress", str(settings_file), f"s3://{stack.bucket}/{model.name}/serving.json")
        _wait_for_settings(stack, model.name)
        started = time.perf_counter()
        sent = _send(stack.inference_url, f"/v2/models/{model.name}/infer", requests)
        arrived = _records(stack, model.name, sent)
        seconds = time.perf_counter() - started
    return Figure(
        name=f"serving: capture at 100 % through the local stack, records in the data bucket of {sent:,} requests",
        ours=arrived,
        baseline=None,
        unit="records",
        better="higher",
        target=float(sent),
        target_of="ours",
        context={"figure": "serving", "requests": sent, "records": arrived, "seconds": round(seconds, 1)},
    )


def _wait_for_settings(stack: StackProcess, name: str) -> None:
    from local_stack.process import http_request

    for _ in range(300):
        answer = http_request("GET", f"{stack.inference_url}/v2/models/{name}/serving", signed=False)
        if answer.status == 200 and answer.json().get("settings"):
            return
        time.sleep(0.1)
    raise BenchError(f"the loader did not publish {name}/serving.json")


def _send(url: str, path: str, requests: int) -> int:
    parts = urlsplit(url)
    body = json.dumps(v2_request(ONE_ROW)).encode()
    headers = {"content-type": "application/json"}
    failures: list[str] = []
    answered = [0] * DELIVERY_CLIENTS

    def client(index: int) -> None:
        connection = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port or 80, timeout=30)
        try:
            for _ in range(requests // DELIVERY_CLIENTS):
                connection.request("POST", path, body, headers)
                response = connection.getresponse()
                response.read()
                if response.status != 200:
                    failures.append(f"status {response.status}")
                    return
                answered[index] += 1
        except (OSError, http.client.HTTPException) as error:
            failures.append(f"{type(error).__name__}: {error}")
        finally:
            connection.close()

    threads = [threading.Thread(target=client, args=(n,), daemon=True) for n in range(DELIVERY_CLIENTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(600)
    if failures:
        raise BenchError(f"capture delivery: {len(failures)} client(s) failed, e.g. {failures[0]}")
    return sum(answered)


def _records(stack: StackProcess, name: str, expected: int) -> int:
    """The capture records of ``name`` in the data bucket, polled until ``expected`` arrived or delivery stops
    growing for ten rounds of a second."""
    s3 = stack.s3_client()
    count, still = 0, 0
    while still < 10:
        pages = s3.get_paginator("list_objects_v2").paginate(Bucket=stack.data_bucket, Prefix=f"capture/{name}/")
        keys = [item["Key"] for page in pages for item in page.get("Contents", ())]
        found = sum(int(s3.get_object(Bucket=stack.data_bucket, Key=key)["Body"].read().count(b"\n")) for key in keys)
        if found >= expected:
            return found
        still = still + 1 if found == count else 0
        count = found
        time.sleep(1.0)
    return count
