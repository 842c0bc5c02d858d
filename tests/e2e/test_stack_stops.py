"""The local stack always stops, and with exit status 0: SIGTERM while a request waits on an inference environment
that will not finish, while the loader is mid-publish, while a kept-alive connection sits idle and while clients keep
sending, round after round. ``StackProcess.stop`` allows 20 s before it calls the stack hung; the stack's own grace
for work in hand is 5 s."""

from __future__ import annotations

import http.client
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from local_stack.process import StackProcess, running_stack, wait_for_status

pytestmark = [pytest.mark.e2e, pytest.mark.slow]
ROUNDS = 4
POLLS = 300
ANSWER_POLLS = 3000  # of 20 ms: a busy machine answers 31 requests well within that


def env(markers: Path) -> dict[str, str]:
    return {
        "LOCAL_INFERENCE_HANDLER": "tests.support.slow_handlers.inference",
        "LOCAL_LOADER_HANDLER": "tests.support.slow_handlers.loader",
        "LOCAL_API_AUTHORIZATION": "NONE",
        "LOCAL_INFERENCE_CONCURRENCY": "2",
        "BUSY_MARKER_DIR": str(markers),
    }


def connection(stack: StackProcess) -> http.client.HTTPConnection:
    parts = urlsplit(stack.inference_url)
    return http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=60)


def ask(stack: StackProcess, path: str, outcomes: list[str]) -> None:
    """One request; its status, or how the connection ended."""
    client = connection(stack)
    try:
        client.request("GET", path)
        outcomes.append(str(client.getresponse().status))
    except (OSError, http.client.HTTPException) as error:
        outcomes.append(type(error).__name__)
    finally:
        client.close()


@contextmanager
def clients(stack: StackProcess, stopped: threading.Event, outcomes: list[str]) -> Iterator[None]:
    """Two clients sending request after request until ``stopped``."""

    def send() -> None:
        while not stopped.is_set() and len(outcomes) < 10_000:
            ask(stack, "/v2/health/live", outcomes)

    threads = [threading.Thread(target=send, daemon=True) for _ in range(2)]
    for thread in threads:
        thread.start()
    yield
    stopped.set()
    for thread in threads:
        thread.join(timeout=60)


def wait_for_answers(outcomes: list[str], count: int) -> None:
    for _ in range(ANSWER_POLLS):
        if outcomes.count("200") >= count:
            return
        threading.Event().wait(0.02)
    raise AssertionError(f"the clients had {outcomes.count('200')} answers, not {count}")


def wait_for_markers(markers: Path, *names: str) -> None:
    for _ in range(POLLS):
        found = {path.name.split("-")[0] for path in markers.iterdir()}
        if set(names) <= found:
            return
        threading.Event().wait(0.1)
    raise AssertionError(f"not busy: {names} (markers: {sorted(p.name for p in markers.iterdir())})")


@pytest.mark.parametrize("round_number", range(ROUNDS))
def test_the_stack_stops_with_every_function_busy_and_clients_sending(tmp_path: Path, round_number: int) -> None:
    markers = tmp_path / "markers"
    markers.mkdir()
    model = tmp_path / "iris.joblib"
    model.write_bytes(b"any bytes: the loader here is busy, not reading")
    outcomes: list[str] = []
    slow: list[str] = []
    stopped = threading.Event()
    with running_stack(tmp_path / "efs", env=env(markers)) as stack:
        wait_for_status(f"{stack.inference_url}/v2/health/live", 200, signed=False)
        stack.aws("s3", "cp", "--no-progress", str(model), f"s3://{stack.bucket}/iris.joblib")  # mid-publish
        waiting = threading.Thread(target=ask, args=(stack, "/v2/models/iris/slow", slow), daemon=True)
        waiting.start()  # an environment that will not finish its request
        idle = connection(stack)  # a kept-alive connection, idle when the stack stops
        idle.request("GET", "/v2/health/live")
        assert idle.getresponse().read() is not None
        wait_for_markers(markers, "inference", "loader")
        with clients(stack, stopped, outcomes):
            # Stop once the clients have had answers, later in their stream of requests each round (by count).
            wait_for_answers(outcomes, 1 + 10 * round_number)
            code = stack.stop()
        waiting.join(timeout=60)
        idle.close()

    assert code == 0
    assert not waiting.is_alive() and slow and slow[0] != "200"  # ended by the stop: an error, or the connection
    assert set(outcomes) <= {"200", "500", *ERRORS}, set(outcomes)


ERRORS = {"ConnectionRefusedError", "ConnectionResetError", "RemoteDisconnected", "BrokenPipeError"}


@pytest.mark.parametrize("round_number", range(ROUNDS))
def test_a_stack_stopped_as_soon_as_it_is_ready_stops(tmp_path: Path, round_number: int) -> None:
    with running_stack(tmp_path / "efs", env={"LOCAL_API_AUTHORIZATION": "NONE"}) as stack:
        code = stack.stop()
    assert code == 0
