"""The local stack turns bucket changes into loader invocations the way S3 notifications drive the loader Lambda,
and runs each function in a process of its own: a slow or crashing loader never holds up or takes down inference.

The handlers here run in the functions' worker processes; they record what they see in the model directory."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from unittest import mock
from urllib.parse import quote_plus

import boto3
import pytest

from local_stack.bridge import MAX_ATTEMPTS, Sequencer
from local_stack.process import http_request
from local_stack.stack import LocalStack, StackConfig


def _journal() -> Path:
    return Path(os.environ["MODEL_DIR"]) / "events.jsonl"


def recorded_events(model_dir: Path) -> list[dict[str, Any]]:
    try:
        lines = (model_dir / "events.jsonl").read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        return []
    return [json.loads(line) for line in lines if line]


def recording_loader(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """A loader that records each event; keys starting with flaky fail twice, keys starting with broken always,
    keys starting with slow wait until the test releases them and keys starting with crash end the loader's process."""
    with _journal().open("a", encoding="utf-8") as journal:
        journal.write(json.dumps(event) + "\n")
    key = event["Records"][0]["s3"]["object"]["key"]
    attempts = sum(1 for seen in recorded_events(_journal().parent) if seen["Records"][0]["s3"]["object"]["key"] == key)
    if key.startswith("broken") or (key.startswith("flaky") and attempts < MAX_ATTEMPTS):
        raise RuntimeError(f"cannot load {key} (attempt {attempts})")
    if key.startswith("slow"):
        release = _journal().parent / f"{key}.release"
        for _ in range(1200):  # bounded by count: released by the test, or given up after a minute
            if release.exists():
                break
            time.sleep(0.05)
        (_journal().parent / f"{key}.done").touch()
    if key.startswith("crash"):
        os._exit(3)
    assert context.function_name == "loader"
    return {"processed": 1, "pid": os.getpid()}


def echo_inference(event: dict[str, Any], context: Any) -> dict[str, Any]:
    body = {
        "path": event["rawPath"],
        "model_dir": os.environ["MODEL_DIR"],
        "function": context.function_name,
        "service": os.environ.get("POWERTOOLS_SERVICE_NAME"),
        "s3_endpoint": os.environ.get("AWS_ENDPOINT_URL_S3"),
        "pid": os.getpid(),
    }
    return {"statusCode": 200, "headers": {"content-type": "application/json"}, "body": json.dumps(body)}


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    config = StackConfig(
        s3_port=0,
        http_port=0,
        bucket="bridge-test",
        model_dir=tmp_path_factory.mktemp("efs"),
        loader_handler=f"{__name__}.recording_loader",
        inference_handler=f"{__name__}.echo_inference",
        quiet=True,
    )
    local = LocalStack(config)
    _model_dir[:] = [local.model_dir]
    # The stack points this process's AWS settings at itself; other tests must not inherit that.
    with mock.patch.dict(os.environ):
        local.start()
        try:
            yield local
        finally:
            local.stop()


@pytest.fixture
def s3(stack: LocalStack) -> Any:
    return boto3.client(
        "s3",
        endpoint_url=stack.s3_endpoint,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


_model_dir: list[Path] = []


def records_for(key: str) -> list[dict[str, Any]]:
    events = recorded_events(_model_dir[0])
    return [record for event in events for record in event["Records"] if record["s3"]["object"]["key"] == key]


def wait_until(condition: Callable[[], bool], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"not true within {timeout} s")
        time.sleep(0.05)


def test_an_upload_and_a_delete_reach_the_loader_as_s3_records_in_order(stack: LocalStack, s3: Any) -> None:
    key = "spaced name/ü.joblib"
    encoded = quote_plus(key)

    s3.put_object(Bucket="bridge-test", Key=key, Body=b"model")
    s3.delete_object(Bucket="bridge-test", Key=key)
    wait_until(lambda: len(records_for(encoded)) == 2)

    created, removed = records_for(encoded)
    assert created["eventName"] == "ObjectCreated:Put"
    assert removed["eventName"] == "ObjectRemoved:Delete"
    assert created["eventSource"] == "aws:s3"
    assert created["s3"]["bucket"]["name"] == "bridge-test"
    assert created["s3"]["object"]["size"] == 5
    assert created["s3"]["object"]["sequencer"] < removed["s3"]["object"]["sequencer"]


def test_the_configuration_test_event_never_reaches_the_loader(stack: LocalStack, s3: Any) -> None:
    s3.put_object(Bucket="bridge-test", Key="marker.joblib", Body=b"x")
    wait_until(lambda: len(records_for("marker.joblib")) == 1)

    assert all("Records" in event for event in recorded_events(stack.model_dir))


def test_a_failed_load_is_retried_with_the_same_sequencer(stack: LocalStack, s3: Any) -> None:
    s3.put_object(Bucket="bridge-test", Key="flaky.joblib", Body=b"x")
    wait_until(lambda: len(records_for("flaky.joblib")) == MAX_ATTEMPTS)

    assert len({record["s3"]["object"]["sequencer"] for record in records_for("flaky.joblib")}) == 1


def test_an_event_that_keeps_failing_goes_to_the_failure_queue(stack: LocalStack, s3: Any) -> None:
    sqs = boto3.client(
        "sqs",
        endpoint_url=stack.s3_endpoint,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    s3.put_object(Bucket="bridge-test", Key="broken.joblib", Body=b"x")
    wait_until(lambda: len(records_for("broken.joblib")) == MAX_ATTEMPTS)

    failures = sqs.get_queue_url(QueueName="bridge-test-loader-failures")["QueueUrl"]
    messages = sqs.receive_message(QueueUrl=failures, WaitTimeSeconds=5).get("Messages", [])
    assert [json.loads(m["Body"])["Records"][0]["s3"]["object"]["key"] for m in messages] == ["broken.joblib"]


def test_http_requests_reach_the_inference_handler_with_the_model_dir(stack: LocalStack) -> None:
    answer = http_request("GET", f"{stack.inference_url}/v2/health/live")

    assert answer.status == 200
    seen = answer.json()
    assert (seen["path"], seen["model_dir"], seen["function"]) == ("/v2/health/live", str(stack.model_dir), "inference")
    assert seen["service"] == "inference"  # the environment Terraform gives it
    assert seen["s3_endpoint"] is None  # on AWS the inference function has no S3 access
    assert seen["pid"] != os.getpid()


def test_requests_are_answered_while_the_loader_is_busy(stack: LocalStack, s3: Any) -> None:
    s3.put_object(Bucket="bridge-test", Key="slow.joblib", Body=b"x")
    wait_until(lambda: len(records_for("slow.joblib")) == 1)

    # The loader holds this event until it is released; inference answers meanwhile, not after it.
    answers = [http_request("GET", f"{stack.inference_url}/v2/health/live").status for _ in range(5)]
    loader_done = (stack.model_dir / "slow.joblib.done").exists()
    (stack.model_dir / "slow.joblib.release").touch()

    assert answers == [200] * 5
    assert not loader_done
    wait_until(lambda: (stack.model_dir / "slow.joblib.done").exists())


def test_a_loader_that_crashes_is_replaced_and_inference_keeps_answering(stack: LocalStack, s3: Any) -> None:
    before = http_request("GET", f"{stack.inference_url}/v2/health/live").json()["pid"]
    s3.put_object(Bucket="bridge-test", Key="crash.joblib", Body=b"x")
    wait_until(lambda: len(records_for("crash.joblib")) == MAX_ATTEMPTS, timeout=60)
    s3.put_object(Bucket="bridge-test", Key="after-crash.joblib", Body=b"x")
    wait_until(lambda: len(records_for("after-crash.joblib")) == 1)

    answer = http_request("GET", f"{stack.inference_url}/v2/health/live")
    assert answer.status == 200 and answer.json()["pid"] == before


def test_sequencers_increase_and_keep_increasing_after_a_restart() -> None:
    before_restart = Sequencer()
    issued = [before_restart.next() for _ in range(1000)]

    after_restart = Sequencer().next()

    assert issued == sorted(issued)
    assert len(set(issued)) == len(issued)
    assert all(len(sequencer) == 16 for sequencer in [*issued, after_restart])
    assert after_restart > issued[-1]


def test_keys_the_deployment_does_not_notify_never_reach_the_loader(stack: LocalStack, s3: Any) -> None:
    for key in ("notes.txt", "iris.joblib.bak", "iris/1/requirements.txt"):
        s3.put_object(Bucket="bridge-test", Key=key, Body=b"x")
    s3.put_object(Bucket="bridge-test", Key="iris.sample.json", Body=b"{}")
    s3.delete_object(Bucket="bridge-test", Key="iris.sample.json")  # samples notify on creation only
    s3.put_object(Bucket="bridge-test", Key="filtered-marker.joblib", Body=b"x")  # delivered after all of them
    wait_until(lambda: len(records_for("filtered-marker.joblib")) == 1)

    assert [r["eventName"] for r in records_for("iris.sample.json")] == ["ObjectCreated:Put"]
    for key in ("notes.txt", "iris.joblib.bak", "iris/1/requirements.txt"):
        assert records_for(quote_plus(key)) == []
