"""Measuring side by side: interleaved in-process timings, and child processes timed with their own peak memory."""

from __future__ import annotations

import contextlib
import os
import signal
import statistics
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]


class BenchError(RuntimeError):
    """A measurement could not be taken (a child failed, an answer was wrong); the message says which."""


def interleaved(
    ours: Callable[[], object], baseline: Callable[[], object], iterations: int, *, warmup: int = 0
) -> tuple[list[float], list[float]]:
    """Seconds per call of each, measured in alternating pairs so that drift on a noisy machine hits both alike.

    The order within a pair flips every iteration: whichever runs second finds the caches the first one warmed.
    """
    for _ in range(warmup):
        ours()
        baseline()
    ours_times: list[float] = []
    baseline_times: list[float] = []
    clock = time.perf_counter
    for index in range(iterations):
        if index % 2:
            started = clock()
            baseline()
            middle = clock()
            ours()
            ended = clock()
            baseline_times.append(middle - started)
            ours_times.append(ended - middle)
        else:
            started = clock()
            ours()
            middle = clock()
            baseline()
            ended = clock()
            ours_times.append(middle - started)
            baseline_times.append(ended - middle)
    return ours_times, baseline_times


def median(values: Sequence[float]) -> float:
    if not values:
        raise BenchError("no samples")
    return statistics.median(values)


@dataclass(frozen=True)
class ChildRun:
    seconds: float
    stdout: str


def run_child(command: Sequence[str], env: Mapping[str, str], *, timeout: float, what: str) -> ChildRun:
    """Run a command to completion and return its wall time, or raise BenchError with the end of its stderr.

    Output goes to temporary files rather than pipes, so a chatty child can neither block nor be slowed by a reader.
    """
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        started = time.perf_counter()
        # A session of its own, so that a timeout or an interrupt stops the child's own children too.
        process = subprocess.Popen(
            list(command), env=dict(env), stdout=out, stderr=err, cwd=REPO_ROOT, start_new_session=True
        )
        timed_out = threading.Event()

        def stop() -> None:
            timed_out.set()
            _kill_group(process.pid)

        # A blocking wait with a timer, not wait(timeout): that polls with sleeps of up to 50 ms, which would blur
        # the wall time of a one-second process.
        timer = threading.Timer(timeout, stop)
        timer.start()
        try:
            process.wait()
        finally:
            timer.cancel()
            if process.poll() is None:  # interrupted
                _kill_group(process.pid)
                process.wait()
        seconds = time.perf_counter() - started
        out.seek(0)
        err.seek(0)
        stdout = out.read().decode("utf-8", "replace")
        stderr = err.read().decode("utf-8", "replace")
    if timed_out.is_set():
        raise BenchError(f"{what}: still running after {timeout:.0f} s; killed")
    if process.returncode != 0:
        raise BenchError(f"{what}: exit code {process.returncode}\n{stderr[-2000:]}")
    return ChildRun(seconds=seconds, stdout=stdout)


def _kill_group(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError):  # it ended meanwhile
        os.killpg(pid, signal.SIGKILL)
