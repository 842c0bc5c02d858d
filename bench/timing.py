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


# Each side runs for about this long before the other takes over: short enough that drift on a noisy machine hits
# both alike, long enough that each is timed in its own steady state, as a warm function serving requests back to
# back is, rather than paying to reload the caches the other side just used.
BLOCK_SECONDS = 0.01
MAX_BLOCK_CALLS = 100


def interleaved(
    ours: Callable[[], object],
    baseline: Callable[[], object],
    iterations: int,
    *,
    warmup: int = 0,
    setup_baseline: Callable[[], Callable[[], None]] | None = None,
) -> tuple[list[float], list[float]]:
    """Seconds per call of each (``iterations`` calls each), measured in alternating blocks of about
    ``BLOCK_SECONDS``; the order of the two blocks of a pair flips every pair.

    ``setup_baseline``, untimed, prepares each baseline call and returns what undoes it afterwards (e.g. library
    settings the baseline must run without).
    """
    clock = time.perf_counter

    def timed_baseline() -> float:
        undo = setup_baseline() if setup_baseline is not None else None
        started = clock()
        baseline()
        elapsed = clock() - started
        if undo is not None:
            undo()
        return elapsed

    def timed_ours() -> float:
        started = clock()
        ours()
        return clock() - started

    for _ in range(warmup):
        timed_ours()
        timed_baseline()
    ours_block, baseline_block = (
        _block_calls(min(timed() for _ in range(3))) for timed in (timed_ours, timed_baseline)
    )
    ours_times: list[float] = []
    baseline_times: list[float] = []
    pair = 0
    while len(ours_times) < iterations or len(baseline_times) < iterations:
        blocks = [(timed_ours, ours_times, ours_block), (timed_baseline, baseline_times, baseline_block)]
        for timed, times, size in blocks if pair % 2 == 0 else reversed(blocks):
            times.extend(timed() for _ in range(min(size, iterations - len(times))))
        pair += 1
    return ours_times, baseline_times


def _block_calls(seconds_per_call: float) -> int:
    return max(1, min(MAX_BLOCK_CALLS, round(BLOCK_SECONDS / max(seconds_per_call, 1e-9))))


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
