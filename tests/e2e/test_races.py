"""Races between the loader and the inference function sharing one model directory.

The main thread drives the loader's own logic (``process_record`` reading a moto S3 bucket: stream to a temporary
file, fsync, validate, ``os.replace``; deletes through ``remove_model``) while several threads predict through the
inference handler with HTTP API 2.0 events. The refresh window is 0, so every request re-checks the files and races
the loader's file operations.

Each model answers the probe rows with one class only, so an answer tells which file produced it.
"""

from __future__ import annotations

import copy
import io
import itertools
import json
import math
import os
import shutil
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import boto3
import joblib
import pytest
import skops.io
from moto import mock_aws
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression

from lambdas.common.repository import find_model_files
from lambdas.common.settings import Settings
from lambdas.inference.cache import ModelCache
from lambdas.loader.process import Outcome, Status, process_record
from tests.support.events import s3_record
from tests.support.inference import event_for, v2_request

pytestmark = pytest.mark.slow

BUCKET = "models"
PUBLISHES = 500
# Republishing in another format also removes the previous file; fewer rounds suffice to cross that window often.
FORMAT_SWITCHES = 300
PREDICTING_THREADS = 3
# Every loop below is bounded by its count. This only guards against a hang, far above a normal run on a busy
# machine: a correct run never fails because the machine is slow.
RACE_DEADLINE_SECONDS = 900.0
JOIN_SECONDS = 10.0
# A short GIL switch interval makes the threads interleave inside file operations, not only between them.
SWITCH_INTERVAL_SECONDS = 0.0002
# Predicting threads pause between requests, or they would starve the loader of the GIL and slow the race down.
PAUSE_SECONDS = 0.002
PROBE_ROWS = 3  # the first iris rows, all of class 0 (setosa)


@dataclass(frozen=True)
class Answer:
    path: str
    status: int
    body: dict[str, Any]
    started: float
    ended: float

    @property
    def version(self) -> int | None:
        text = self.body.get("model_version")
        return int(text) if isinstance(text, str) and text.isdigit() else None

    @property
    def labels(self) -> list[Any] | None:
        outputs = self.body.get("outputs")
        if not isinstance(outputs, list) or len(outputs) != 1 or not isinstance(outputs[0], dict):
            return None
        data = outputs[0].get("data")
        return data if isinstance(data, list) else None


@dataclass(frozen=True)
class Models:
    probe: list[list[float]]
    by_class: dict[int, bytes]  # joblib bytes of a model that answers every probe row with this class
    skops_by_class: dict[int, bytes]

    def body(self, key: str, answer: int) -> bytes:
        return self.skops_by_class[answer] if key.endswith(".skops") else self.by_class[answer]


@pytest.fixture(scope="module")
def models() -> Models:
    features, labels = load_iris(return_X_y=True)
    probe = features[:PROBE_ROWS]
    by_class, skops_by_class = {}, {}
    for answer in (0, 1, 2):
        # Shifting the label map makes setosa, the probe rows' species, come out as ``answer``.
        model = LogisticRegression(max_iter=500).fit(features, (labels + answer) % 3)
        assert model.predict(probe).tolist() == [answer] * PROBE_ROWS
        buffer = io.BytesIO()
        joblib.dump(model, buffer)
        by_class[answer] = buffer.getvalue()
        skops_by_class[answer] = skops.io.dumps(model)
    return Models(probe=probe.tolist(), by_class=by_class, skops_by_class=skops_by_class)


@pytest.fixture
def model_dir(tmp_path: Path) -> Iterator[Path]:
    """The model directory, in memory when the machine offers a tmpfs.

    An fsync on this disk costs about 5 ms and a publish makes six, so 1,000 publishes would take over 30 s. A tmpfs
    has the same rename and unlink semantics, which are what readers can observe; only durability differs.
    """
    shared_memory = Path("/dev/shm")
    if not (shared_memory.is_dir() and os.access(shared_memory, os.W_OK)):
        yield tmp_path
        return
    directory = Path(tempfile.mkdtemp(prefix="race-", dir=shared_memory))
    try:
        yield directory
    finally:
        shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture
def s3(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SECURITY_TOKEN": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(name, value)
    for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3"):
        monkeypatch.delenv(name, raising=False)
    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket=BUCKET)
        client.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
        yield client


def race_settings(model_dir: Path, *, onnx_fast_path: bool = True) -> Settings:
    return Settings(
        model_dir=model_dir,
        model_prefix="",
        cache_max_bytes=64 * 1024 * 1024,
        refresh_seconds=0.0,
        max_request_bytes=6 * 1024 * 1024,
        allowed_suffixes=frozenset({".joblib", ".pkl", ".skops"}),
        onnx_fast_path=onnx_fast_path,
    )


@pytest.fixture(params=[True, False], ids=["onnx", "sklearn"])
def fast_path(request: pytest.FixtureRequest) -> bool:
    """Both runtimes, for races whose interleaving is forced: the same guarantees hold whichever serves."""
    return bool(request.param)


@pytest.fixture
def cache_events(monkeypatch: pytest.MonkeyPatch) -> Counter[str]:
    """The cache's metric events (ModelLoaded, ModelLoadFailed, ...) counted for a service configured afterwards.

    A file that fails to load is not always visible in an answer, since the cache keeps serving the model it had;
    the metric shows it.
    """
    from lambdas.inference.observability import count

    events: Counter[str] = Counter()

    def counting(name: str) -> None:
        events[name] += 1
        count(name)

    monkeypatch.setattr("lambdas.inference.service.count", counting)
    return events


@pytest.fixture
def handler(model_dir: Path, cache_events: Counter[str]) -> Iterator[ModuleType]:
    """The inference handler serving ``model_dir`` and re-checking its files on every request."""
    from lambdas.inference import handler as module

    module.configure(race_settings(model_dir))
    yield module
    module.configure(Settings.from_env())


class Loader:
    """Applies S3 records for a versioned moto bucket with the loader's logic.

    Each body is uploaded once; a re-upload is a record naming that stored object version with a newer sequencer.
    The loader reads exactly those bytes either way, and the race costs half the emulated S3 calls.
    """

    def __init__(self, s3: Any, model_dir: Path, *, onnx_fast_path: bool = True) -> None:
        self.s3 = s3
        self.settings = race_settings(model_dir, onnx_fast_path=onnx_fast_path)
        self._sequencers = itertools.count(0x10000)
        self._uploads: dict[tuple[str, bytes], dict[str, Any]] = {}

    def _sequencer(self) -> str:
        return f"0069A1B2C3{next(self._sequencers):08X}"

    def put(self, key: str, body: bytes) -> Outcome:
        upload = self._uploads.get((key, body))
        if upload is None:
            upload = self._uploads[(key, body)] = self.s3.put_object(Bucket=BUCKET, Key=key, Body=body)
        record = s3_record(
            "ObjectCreated:Put",
            key,
            version_id=upload["VersionId"],
            etag=upload["ETag"],
            size=len(body),
            sequencer=self._sequencer(),
        )
        return process_record(self.s3, record, self.settings)

    def delete(self, key: str) -> Outcome:
        # Deleted in S3 too: the loader asks S3 before it removes a model. Uploads are reused by version, which a
        # delete marker leaves in place.
        marker = self.s3.delete_object(Bucket=BUCKET, Key=key)
        record = s3_record(
            "ObjectRemoved:DeleteMarkerCreated", key, version_id=marker.get("VersionId"), sequencer=self._sequencer()
        )
        return process_record(self.s3, record, self.settings)


class Client:
    """Predicts the probe rows through the handler; one instance per thread (events are copied per request)."""

    def __init__(self, handler: ModuleType, probe: list[list[float]], paths: list[str]) -> None:
        self._handler = handler
        body = v2_request(probe, [len(probe), len(probe[0])])
        self._events = {path: event_for("http", "POST", path, body) for path in paths}

    def ask(self, path: str) -> Answer:
        event = copy.deepcopy(self._events[path])
        started = time.perf_counter()
        try:
            response = self._handler.lambda_handler(event, None)
            status, body = int(response["statusCode"]), json.loads(response["body"])
        except Exception as error:  # recorded as an answer, so that the main thread reports it
            status, body = -1, {"exception": repr(error)}
        return Answer(path, status, body, started, time.perf_counter())


@dataclass
class Race:
    answers: list[list[Answer]] = field(default_factory=list)  # one list per thread, in request order

    def all(self) -> list[Answer]:
        return [answer for thread in self.answers for answer in thread]


@contextmanager
def predicting(client_for: Callable[[], Client], paths: list[str]) -> Iterator[Race]:
    """Threads that predict round-robin over ``paths`` until the block ends (or the deadline passes)."""
    race = Race(answers=[[] for _ in range(PREDICTING_THREADS)])
    stop = threading.Event()
    deadline = time.monotonic() + RACE_DEADLINE_SECONDS

    def run(answers: list[Answer]) -> None:
        client = client_for()
        for path in itertools.cycle(paths):
            if stop.is_set() or time.monotonic() > deadline:
                return
            answers.append(client.ask(path))
            time.sleep(PAUSE_SECONDS)

    threads = [threading.Thread(target=run, args=(answers,), daemon=True) for answers in race.answers]
    interval = sys.getswitchinterval()
    sys.setswitchinterval(SWITCH_INTERVAL_SECONDS)
    try:
        for thread in threads:
            thread.start()
        started = time.monotonic()
        while not all(race.answers) and time.monotonic() - started < JOIN_SECONDS:
            time.sleep(0.001)
        yield race
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=JOIN_SECONDS)
        sys.setswitchinterval(interval)
    assert not any(thread.is_alive() for thread in threads), "a predicting thread did not stop"
    assert time.monotonic() < deadline, "the race ran past its deadline: the publishes were not all raced"


def changes(race: Race) -> int:
    """How often a thread's answer differed from its previous one: proof that the answers moved during the race."""
    total = 0
    for answers in race.answers:
        seen = [(a.path, a.status, a.version, str(a.labels)) for a in answers]
        by_path: dict[str, tuple[Any, ...]] = {}
        for path, *rest in seen:
            if path in by_path and by_path[path] != tuple(rest):
                total += 1
            by_path[path] = tuple(rest)
    return total


@pytest.mark.parametrize(
    ("keys", "publishes"),
    [(("flip.joblib", "flip.joblib"), PUBLISHES), (("flip.joblib", "flip.skops"), FORMAT_SWITCHES)],
    ids=["same-format", "joblib-and-skops"],
)
def test_republishing_a_model_serves_the_old_or_the_new_one_never_an_error(
    s3: Any,
    model_dir: Path,
    handler: ModuleType,
    models: Models,
    cache_events: Counter[str],
    keys: tuple[str, str],
    publishes: int,
) -> None:
    # Given a model published from S3, and threads predicting with it through the handler, by latest and by version
    loader = Loader(s3, model_dir)
    uploads = [(key, models.body(key, answer), answer) for key, answer in zip(keys, (0, 2), strict=True)]
    assert loader.put(*uploads[0][:2]).status is Status.PUBLISHED
    paths = ["/v2/models/flip/infer", "/v2/models/flip/versions/1/infer"]
    own = Client(handler, models.probe, paths)
    outcomes: Counter[Status] = Counter()
    stale_after_publish = []

    # When the model is uploaded again and again, alternating between two models that answer differently (and, for
    # the second case, between two formats: each publish then also removes the other format's file)
    with predicting(lambda: Client(handler, models.probe, paths), paths) as race:
        for publish in range(publishes):
            key, body, answer = uploads[(publish + 1) % 2]
            outcomes[loader.put(key, body).status] += 1
            # A publish the loader has finished is served by the very next request (refresh window 0).
            for path in paths:
                seen = own.ask(path)
                if seen.status != 200 or seen.labels != [answer] * PROBE_ROWS:
                    stale_after_publish.append((publish, seen))

    # Then every answer comes from one of the two models, with no error at all, and both were served
    answers = race.all()
    per_model = Counter(str(a.labels) for a in answers if a.status == 200)
    bad = [a for a in answers if a.status != 200 or a.version != 1 or a.labels not in ([0] * 3, [2] * 3)]
    print(
        f"\nrepublish race: {sum(outcomes.values())} publishes, {len(answers)} requests from "
        f"{PREDICTING_THREADS} threads, answers per model {dict(per_model)}, {changes(race)} changes seen, "
        f"{len(bad)} errors, cache {dict(cache_events)}"
    )
    assert outcomes == {Status.PUBLISHED: publishes}
    assert bad == []
    assert cache_events["ModelLoadFailed"] == 0, "the inference function saw a partial or unreadable model file"
    assert stale_after_publish == []
    assert per_model[str([0] * 3)] > 0
    assert per_model[str([2] * 3)] > 0
    assert changes(race) >= 100, "the predictions did not interleave with the publishes"


@dataclass
class Timeline:
    """When each model version was certainly present or certainly absent, from the loader calls' start and end."""

    # (name, version) -> list of (present after the call, call started, call ended), in order
    calls: dict[tuple[str, int], list[tuple[bool, float, float]]] = field(default_factory=dict)

    def record(self, name: str, version: int, present: bool, started: float, ended: float) -> None:
        self.calls.setdefault((name, version), []).append((present, started, ended))

    def _spans(self, name: str, version: int, present: bool) -> list[tuple[float, float]]:
        """Spans during which the version was ``present`` for sure (every version starts present)."""
        calls = self.calls.get((name, version), [])
        spans = []
        begin: float | None = -math.inf if present else None
        for now_present, started, ended in calls:
            if begin is not None:
                spans.append((begin, started))
            begin = ended if now_present == present else None
        if begin is not None:
            spans.append((begin, math.inf))
        return spans

    def surely(self, name: str, version: int, present: bool, answer: Answer) -> bool:
        """Whether the version was ``present`` (or absent) during the whole request."""
        spans = self._spans(name, version, present)
        return any(low <= answer.started and answer.ended <= high for low, high in spans)


CYCLE_CLASS = {1: 0, 2: 1, 3: 2}  # each version of "cycle" answers the probe rows with its own class
BLINK_CLASS = 2


def test_deleted_and_recreated_versions_answer_a_version_that_exists_or_a_clean_404(
    s3: Any, model_dir: Path, handler: ModuleType, models: Models, cache_events: Counter[str]
) -> None:
    # Given "cycle" versions 1, 2 and 3 and "blink" version 1, each version answering with its own class
    loader = Loader(s3, model_dir)
    cycle_keys = {version: f"cycle/{version}/model.joblib" for version in CYCLE_CLASS}
    for version, key in cycle_keys.items():
        assert loader.put(key, models.by_class[CYCLE_CLASS[version]]).status is Status.PUBLISHED
    assert loader.put("blink.joblib", models.by_class[BLINK_CLASS]).status is Status.PUBLISHED
    cycle_latest, blink_latest = "/v2/models/cycle/infer", "/v2/models/blink/infer"
    pinned = {version: f"/v2/models/cycle/versions/{version}/infer" for version in CYCLE_CLASS}
    blink_pinned = "/v2/models/blink/versions/1/infer"
    paths = [cycle_latest, *pinned.values(), blink_latest, blink_pinned]
    own = Client(handler, models.probe, paths)
    timeline = Timeline()
    outcomes: Counter[Status] = Counter()
    wrong_after_change = []
    # Version 1 of "cycle" stays; 3 and 2 go and come back, so latest moves 3 -> 2 -> 1 -> 2 -> 3; "blink" blinks.
    steps: list[tuple[str, str, int, bool]] = [
        ("cycle", cycle_keys[3], 3, False),
        ("cycle", cycle_keys[2], 2, False),
        ("blink", "blink.joblib", 1, False),
        ("cycle", cycle_keys[2], 2, True),
        ("blink", "blink.joblib", 1, True),
        ("cycle", cycle_keys[3], 3, True),
    ]
    present = {("cycle", 1), ("cycle", 2), ("cycle", 3), ("blink", 1)}

    # When versions are deleted and re-created hundreds of times while threads predict
    with predicting(lambda: Client(handler, models.probe, paths), paths) as race:
        for step in range(PUBLISHES + 2):
            name, key, version, create = steps[step % len(steps)]
            started = time.perf_counter()
            if create:
                body = models.by_class[CYCLE_CLASS[version] if name == "cycle" else BLINK_CLASS]
                outcome = loader.put(key, body)
                present.add((name, version))
            else:
                outcome = loader.delete(key)
                present.discard((name, version))
            timeline.record(name, version, create, started, time.perf_counter())
            outcomes[outcome.status] += 1
            # Once the loader returns, the next requests see the change.
            latest = max((v for n, v in present if n == name), default=0)
            checks = [(blink_latest if name == "blink" else cycle_latest, latest)]
            checks.append((blink_pinned if name == "blink" else pinned[version], version if create else 0))
            for path, expected_version in checks:
                seen = own.ask(path)
                if expected_version == 0 and seen.status == 404:
                    continue
                if seen.status != 200 or seen.version != expected_version:
                    wrong_after_change.append((step, path, expected_version, seen))

    # Then every answer is a prediction by a version that existed during the request, with that version's model,
    # or a 404 while the version (or, for latest, the whole model) may have been absent: never another status
    answers = race.all()
    violations = []
    tally: Counter[str] = Counter()
    for answer in answers:
        name = "blink" if "/blink/" in answer.path else "cycle"
        classes = {1: BLINK_CLASS} if name == "blink" else CYCLE_CLASS
        asked = None if answer.path in (cycle_latest, blink_latest) else int(answer.path.split("/")[-2])
        label = f"{answer.path} -> {answer.status}"
        if answer.status == 200:
            served = answer.version
            label += f" v{served}"
            if (
                served is None
                or served not in classes
                or (asked is not None and served != asked)
                or answer.body.get("model_name") != name
                or answer.labels != [classes[served]] * PROBE_ROWS
                or timeline.surely(name, served, False, answer)
            ):
                violations.append(answer)
        elif answer.status == 404:
            message = answer.body.get("error")
            if (
                set(answer.body) != {"error"}
                or not isinstance(message, str)
                or "not found" not in message
                or (name, asked) == ("cycle", 1)
                or (asked is None and name == "cycle")  # version 1 never leaves, so latest always exists
                # blink has one version: its latest is absent exactly when version 1 is
                or timeline.surely(name, asked or 1, True, answer)
            ):
                violations.append(answer)
        else:
            violations.append(answer)
        tally[label] += 1
    print(
        f"\ndelete/re-create race: {sum(outcomes.values())} loader calls "
        f"{ {status.value: n for status, n in outcomes.items()} }, "
        f"{len(answers)} requests, {changes(race)} changes seen, {len(violations)} violations, "
        f"cache {dict(cache_events)}\n" + "\n".join(f"  {label}: {n}" for label, n in sorted(tally.items()))
    )
    assert violations == []
    assert cache_events["ModelLoadFailed"] == 0, "the inference function saw a partial or unreadable model file"
    assert wrong_after_change == []
    creates = sum(steps[step % len(steps)][3] for step in range(PUBLISHES + 2))
    assert outcomes == {Status.PUBLISHED: creates, Status.DELETED: PUBLISHES + 2 - creates}
    for version in (1, 2, 3):
        assert tally[f"{cycle_latest} -> 200 v{version}"] > 0, f"latest never answered with version {version}"
    assert tally[f"{pinned[3]} -> 404"] > 0
    assert tally[f"{blink_latest} -> 404"] > 0
    assert changes(race) >= 100, "the predictions did not interleave with the loader"


# The interleavings below are rare in the threaded races above, so they are forced: the loader's deletion runs at
# the exact point of the inference function's work where it hurts most.


def test_a_version_deleted_while_it_loads_answers_404_and_latest_falls_back(
    s3: Any, model_dir: Path, handler: ModuleType, models: Models, monkeypatch: pytest.MonkeyPatch, fast_path: bool
) -> None:
    # Given "cycle" versions 1 and 2, and a loader that deletes version 2 just as the inference function opens it
    handler.configure(race_settings(model_dir, onnx_fast_path=fast_path))
    loader = Loader(s3, model_dir, onnx_fast_path=fast_path)
    for version in (1, 2):
        assert loader.put(f"cycle/{version}/model.joblib", models.by_class[CYCLE_CLASS[version]]).status is (
            Status.PUBLISHED
        )
    real_load = ModelCache._load

    def deleted_first(cache: ModelCache, name: str, version: int, path: Path, *args: Any) -> Any:
        if path.parent.name == "2" and path.exists():
            assert loader.delete("cycle/2/model.joblib").status is Status.DELETED
        return real_load(cache, name, version, path, *args)

    monkeypatch.setattr(ModelCache, "_load", deleted_first)
    client = Client(handler, models.probe, ["/v2/models/cycle/versions/2/infer", "/v2/models/cycle/infer"])

    # When version 2 is asked for by number, it is gone: 404, not 503 "cannot be loaded"
    pinned = client.ask("/v2/models/cycle/versions/2/infer")
    assert (pinned.status, pinned.body) == (404, {"error": "model 'cycle' version 2 not found"})

    # When latest is asked for while version 2 vanishes, version 1 answers
    assert loader.put("cycle/2/model.joblib", models.by_class[CYCLE_CLASS[2]]).status is Status.PUBLISHED
    latest = client.ask("/v2/models/cycle/infer")
    assert (latest.status, latest.version, latest.labels) == (200, 1, [CYCLE_CLASS[1]] * PROBE_ROWS)


def test_latest_answers_while_its_top_versions_are_deleted_one_after_another(
    s3: Any, model_dir: Path, handler: ModuleType, models: Models, monkeypatch: pytest.MonkeyPatch, fast_path: bool
) -> None:
    # Given "cycle" versions 1, 2 and 3, and a loader that deletes version 3 and then version 2, each just as the
    # inference function looks for its file, after it has listed the versions
    handler.configure(race_settings(model_dir, onnx_fast_path=fast_path))
    loader = Loader(s3, model_dir, onnx_fast_path=fast_path)
    for version, answer in CYCLE_CLASS.items():
        assert loader.put(f"cycle/{version}/model.joblib", models.by_class[answer]).status is Status.PUBLISHED

    def deleted_first(directory: Path, allowed: frozenset[str] | None = None) -> tuple[Path | None, Path | None]:
        if directory.name in ("2", "3") and directory.is_dir():
            assert loader.delete(f"cycle/{directory.name}/model.joblib").status is Status.DELETED
        return find_model_files(directory, allowed)

    monkeypatch.setattr("lambdas.inference.cache.find_model_files", deleted_first)
    client = Client(handler, models.probe, ["/v2/models/cycle/infer"])

    # When latest is asked for, then version 1, the one left, answers: the model never stopped existing
    latest = client.ask("/v2/models/cycle/infer")
    assert (latest.status, latest.version, latest.labels) == (200, 1, [CYCLE_CLASS[1]] * PROBE_ROWS)


def test_a_version_republished_in_another_format_keeps_answering(
    s3: Any, model_dir: Path, handler: ModuleType, models: Models, monkeypatch: pytest.MonkeyPatch, fast_path: bool
) -> None:
    # Given "swap" version 1 as a joblib file, and a loader that republishes it as a .skops file (which removes the
    # joblib file and replaces its conversion) just after the inference function has found the joblib file
    handler.configure(race_settings(model_dir, onnx_fast_path=fast_path))
    loader = Loader(s3, model_dir, onnx_fast_path=fast_path)
    assert loader.put("swap/1/model.joblib", models.by_class[0]).status is Status.PUBLISHED

    def republished_after(directory: Path, allowed: frozenset[str] | None = None) -> tuple[Path | None, Path | None]:
        found = find_model_files(directory, allowed)
        if found[0] is not None and found[0].suffix == ".joblib":
            assert loader.put("swap/1/model.skops", models.skops_by_class[2]).status is Status.PUBLISHED
        return found

    monkeypatch.setattr("lambdas.inference.cache.find_model_files", republished_after)
    client = Client(handler, models.probe, ["/v2/models/swap/versions/1/infer"])

    # When the version is asked for, the .skops model answers: the version never stopped existing
    answer = client.ask("/v2/models/swap/versions/1/infer")
    assert (answer.status, answer.version, answer.labels) == (200, 1, [2] * PROBE_ROWS)
    files = sorted(p.name for p in (model_dir / "models" / "swap" / "1").iterdir())
    assert files == (["metadata.json", "model.onnx", "model.skops"] if fast_path else ["metadata.json", "model.skops"])
