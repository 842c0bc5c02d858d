"""The local gateway in a thread for a test, in front of a stand-in handler that records what it is given."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from local_stack.authorization import IamAuthorizer
from local_stack.gateway import InferenceGateway


class Recorder:
    """Stands in for the handler: remembers the events and answers with whatever the test sets."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []
        self.answer: Any = {"statusCode": 200, "headers": {"content-type": "application/json"}, "body": "{}"}

    def __call__(self, event: dict[str, Any]) -> Any:
        self.events.append(event)
        if isinstance(self.answer, Exception):
            raise self.answer
        return self.answer


@contextmanager
def running_gateway(recorder: Recorder, authorizer: IamAuthorizer | None = None) -> Iterator[InferenceGateway]:
    """Serves on a free port until the block ends; the serving thread must have stopped by then."""
    server = InferenceGateway("127.0.0.1", 0, recorder, quiet=True, authorizer=authorizer)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
    assert not thread.is_alive()
