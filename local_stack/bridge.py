"""Feeds the S3 event records moto puts on an SQS queue to the loader, as S3 would invoke the loader Lambda.

An S3 notification invokes the loader asynchronously: a failed invocation is retried, and after the last attempt the
event goes to the failure queue. The bridge does the same with the queue's visibility timeout.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from typing import Any
from urllib.parse import unquote_plus

from local_stack.functions import LocalFunction

log = logging.getLogger("local_stack.bridge")

# Lambda makes two retries of a failed asynchronous invocation.
MAX_ATTEMPTS = 3


class Sequencer:
    """S3 sequencers for the records moto leaves without one, increasing in the order the events were queued.

    Based on the clock, so they keep increasing across restarts of the stack: the loader remembers the last
    sequencer it applied for each key in the model directory, which outlives the in-memory S3.
    """

    def __init__(self) -> None:
        self._last = 0
        self._lock = threading.Lock()

    def next(self) -> str:
        with self._lock:
            self._last = max(self._last + 1, time.time_ns())
            return f"{self._last:016X}"


class S3EventBridge:
    """Long-polls the queue in its own thread and invokes the loader with each event."""

    def __init__(
        self,
        sqs: Any,
        queue_url: str,
        failure_queue_url: str,
        loader: LocalFunction,
        *,
        wait_seconds: int = 1,
        retry_delay_seconds: int = 1,
    ) -> None:
        self._thread = threading.Thread(target=self._run, name="s3-event-bridge", daemon=True)
        self._sqs = sqs
        self._queue_url = queue_url
        self._failure_queue_url = failure_queue_url
        self._loader = loader
        self._wait_seconds = wait_seconds
        self._retry_delay_seconds = retry_delay_seconds
        self._stopping = threading.Event()
        self._sequencer = Sequencer()
        self._sequencers: dict[str, list[str]] = {}
        self.delivered = 0
        self.failed = 0

    def start(self) -> None:
        self._thread.start()

    def request_stop(self) -> None:
        """Take no further event; the one in hand goes on."""
        self._stopping.set()

    def stop(self, timeout: float = 30.0) -> None:
        """Take no further event, and wait up to ``timeout`` seconds for the one in hand."""
        self._stopping.set()
        if self._thread.is_alive():
            self._thread.join(timeout)

    def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                reply = self._sqs.receive_message(
                    QueueUrl=self._queue_url,
                    MaxNumberOfMessages=10,
                    WaitTimeSeconds=self._wait_seconds,
                    MessageSystemAttributeNames=["ApproximateReceiveCount"],
                )
            except Exception:
                if self._stopping.is_set():
                    return
                log.exception("cannot read the S3 event queue; retrying")
                self._stopping.wait(1)
                continue
            # A long poll answers as soon as an event is queued; a stop is noticed within one wait.
            for message in reply.get("Messages", []):
                if self._stopping.is_set():
                    return
                self._deliver(message)

    def _deliver(self, message: dict[str, Any]) -> None:
        message_id = str(message.get("MessageId", ""))
        try:
            event = json.loads(message["Body"])
        except (KeyError, ValueError):
            log.error("dropping a queue message that is not JSON: %.200r", message.get("Body"))
            self._acknowledge(message)
            return
        if not isinstance(event, dict) or event.get("Event") == "s3:TestEvent":
            self._acknowledge(message)
            return
        records = event.get("Records")
        if isinstance(records, list):
            self._add_sequencers(message_id, records)
            for record in records:
                obj = record.get("s3", {}).get("object", {}) if isinstance(record, dict) else {}
                log.info("loader <- %s %s", record.get("eventName"), unquote_plus(str(obj.get("key", ""))))
        try:
            result = self._loader.invoke(event)
        except Exception:
            self._retry_or_give_up(message, event)
            return
        if result is not None:
            log.info("loader -> %s", json.dumps(result, default=str)[:1000])
        self.delivered += 1
        self._sequencers.pop(message_id, None)
        self._acknowledge(message)

    def _add_sequencers(self, message_id: str, records: list[Any]) -> None:
        # A retried message keeps the sequencers it got on its first delivery, as S3 events do.
        sequencers = self._sequencers.setdefault(message_id, [])
        for index, record in enumerate(records):
            if index == len(sequencers):
                sequencers.append(self._sequencer.next())
            obj = record.get("s3", {}).get("object") if isinstance(record, dict) else None
            if isinstance(obj, dict):
                obj.setdefault("sequencer", sequencers[index])

    def _retry_or_give_up(self, message: dict[str, Any], event: dict[str, Any]) -> None:
        attempts = int(message.get("Attributes", {}).get("ApproximateReceiveCount", "1"))
        if attempts < MAX_ATTEMPTS:
            log.exception("loader failed (attempt %d of %d); retrying", attempts, MAX_ATTEMPTS)
            try:
                self._sqs.change_message_visibility(
                    QueueUrl=self._queue_url,
                    ReceiptHandle=message["ReceiptHandle"],
                    VisibilityTimeout=self._retry_delay_seconds,
                )
            except Exception:
                log.exception("cannot schedule the retry; the message comes back after its visibility timeout")
            return
        log.exception("loader failed %d times; the event goes to the failure queue", attempts)
        self.failed += 1
        self._sequencers.pop(str(message.get("MessageId", "")), None)
        try:
            self._sqs.send_message(QueueUrl=self._failure_queue_url, MessageBody=json.dumps(event))
        except Exception:
            log.exception("cannot write to the failure queue; keeping the event on the main queue")
            return
        self._acknowledge(message)

    def _acknowledge(self, message: dict[str, Any]) -> None:
        try:
            self._sqs.delete_message(QueueUrl=self._queue_url, ReceiptHandle=message["ReceiptHandle"])
        except Exception:
            log.exception("cannot delete a handled message; it will be delivered again")
