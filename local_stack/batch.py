"""Batch jobs on the local stack: an object created under ``input/`` of the data bucket runs a job as the state
machine runs it on AWS, with the same worker handler and the same events: ``plan``, then every byte range as a
Distributed Map batch (``BatchInput`` and ``Items``) spread over worker functions, each a process of its own that
answers one event at a time, as a Lambda environment does; then ``assemble``. A failed batch is retried twice, as
the state machine's retry does; a job whose range still fails is reported and writes no answers.

What it does not show: Step Functions itself (its payload limits, its own retries and concurrency caps), and
EventBridge: the events come from moto's S3 notifications through a queue, as the loader's do.
"""

from __future__ import annotations

import json
import logging
import queue
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import unquote_plus

from local_stack.functions import FunctionError, LocalFunction

log = logging.getLogger("local_stack.batch")

RANGES_PER_WORKER = 4
ATTEMPTS = 3


class BatchRunner:
    """Long-polls the data bucket's event queue and runs each job on ``workers``."""

    def __init__(self, sqs: Any, queue_url: str, workers: list[LocalFunction], *, wait_seconds: int = 1) -> None:
        self._sqs = sqs
        self._queue_url = queue_url
        self._workers = workers
        self._wait_seconds = wait_seconds
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="batch-jobs", daemon=True)
        self.finished: list[dict[str, Any]] = []

    def start(self) -> None:
        self._thread.start()

    def request_stop(self) -> None:
        """Start no further job; the one running goes on until its workers stop."""
        self._stopping.set()

    def stop(self, timeout: float = 30.0) -> None:
        self._stopping.set()
        if self._thread.is_alive():
            self._thread.join(timeout)

    def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                reply = self._sqs.receive_message(
                    QueueUrl=self._queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=self._wait_seconds
                )
            except Exception:
                if self._stopping.is_set():
                    return
                log.exception("cannot read the data bucket's event queue; retrying")
                self._stopping.wait(1)
                continue
            # A long poll answers as soon as an upload is queued; a stop is noticed within one wait.
            for message in reply.get("Messages", []):
                for bucket, key in _created(message):
                    self.run_job(bucket, key)
                self._sqs.delete_message(QueueUrl=self._queue_url, ReceiptHandle=message["ReceiptHandle"])

    def run_job(self, bucket: str, key: str) -> dict[str, Any] | None:
        """One job, start to end; its manifest (None when a range could not be scored)."""
        execution = f"local:{key}"
        log.info("batch job <- s3://%s/%s", bucket, key)
        planned = self._call(0, {"step": "plan", "bucket": bucket, "key": key, "execution": execution})
        if "failed" in planned:
            log.warning("batch job refused: %s", planned["failed"].get("reason"))
            self.finished.append(planned["failed"])
            return dict(planned["failed"])
        items = planned["items"]
        batches = [items[start : start + RANGES_PER_WORKER] for start in range(0, len(items), RANGES_PER_WORKER)]
        shared = {"step": "score", "plan": planned["plan"]}
        idle: queue.SimpleQueue[int] = queue.SimpleQueue()  # a batch goes to the next worker free, as a Map child
        for index in range(len(self._workers)):
            idle.put(index)

        def run(batch: list[dict[str, Any]]) -> Any:
            worker = idle.get()
            try:
                return self._call(worker, {"BatchInput": shared, "Items": batch})
            finally:
                idle.put(worker)

        with ThreadPoolExecutor(len(self._workers), thread_name_prefix="batch-map") as pool:
            futures = [pool.submit(run, batch) for batch in batches]
            try:
                for future in futures:
                    future.result()
            except FunctionError as error:
                log.error("batch job failed: a range could not be scored: %s", error)
                return None
        manifest = self._call(0, {"step": "assemble", "plan": planned["plan"], "execution": execution})
        log.info("batch job -> %s", json.dumps({k: manifest.get(k) for k in ("status", "rows_in", "rows_out")}))
        self.finished.append(manifest)
        return dict(manifest)

    def _call(self, index: int, event: dict[str, Any]) -> Any:
        """Invoke a worker, retried as the state machine retries a failed task."""
        for attempt in range(1, ATTEMPTS + 1):
            try:
                return self._workers[index].invoke(event)
            except FunctionError:
                if attempt == ATTEMPTS:
                    raise
                log.warning("batch worker failed (attempt %d of %d); retrying", attempt, ATTEMPTS)
        raise AssertionError("unreachable")


def _created(message: dict[str, Any]) -> list[tuple[str, str]]:
    try:
        event = json.loads(message["Body"])
    except (KeyError, ValueError):
        return []
    found = []
    for record in event.get("Records", []) if isinstance(event, dict) else []:
        if isinstance(record, dict) and str(record.get("eventName", "")).startswith("ObjectCreated:"):
            s3 = record.get("s3", {})
            found.append((str(s3.get("bucket", {}).get("name")), unquote_plus(str(s3.get("object", {}).get("key")))))
    return found
