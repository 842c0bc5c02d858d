"""The model cache: refresh after republish, LRU eviction by bytes, a bad file never evicts a good model."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pytest

from lambdas.common.batch import Batch
from lambdas.common.errors import ModelNotFound, ModelUnavailable
from lambdas.common.runtimes import SklearnRunner
from lambdas.inference.cache import LoadedModel, ModelCache
from tests.support.context import inference_context
from tests.support.inference import (
    SETOSA,
    TrainedModels,
    event_for,
    publish,
    response_json,
    settings,
    v2_request,
    write_metadata,
)

SETOSA_ROW = Batch(rows=1, features=np.asarray([SETOSA]))


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _cache(model_dir: Path, clock: Clock, **options: Any) -> tuple[ModelCache, list[str]]:
    events: list[str] = []
    # What a model holds, without the process's memory growth: the same cost on every load, for exact bounds.
    values: dict[str, Any] = {"max_bytes": 1 << 30, "refresh_seconds": 5.0, "measure_resident": False}
    values.update(options)
    return ModelCache(model_dir, on_event=events.append, clock=clock, **values), events


def test_a_republished_model_is_served_once_the_refresh_window_has_passed(
    model_dir: Path, trained: TrainedModels
) -> None:
    clock = Clock()
    cache, _ = _cache(model_dir, clock)
    publish(model_dir, "iris", 1, trained.logistic)
    first = cache.get("iris", 1)

    publish(model_dir, "iris", 1, trained.forest)
    clock.now += 4.9
    assert cache.get("iris", 1) is first  # inside the window: no stat, the cached model answers

    clock.now += 0.2
    assert _estimator(cache.get("iris", 1)) == "RandomForestClassifier"


def test_an_unchanged_file_is_not_loaded_again(model_dir: Path, trained: TrainedModels) -> None:
    clock = Clock()
    cache, events = _cache(model_dir, clock)
    publish(model_dir, "iris", 1, trained.logistic)
    first = cache.get("iris", 1)
    clock.now += 60
    assert cache.get("iris", 1) is first
    assert events == ["ModelLoaded"]


def test_a_corrupt_republish_keeps_serving_the_good_model(model_dir: Path, trained: TrainedModels) -> None:
    clock = Clock()
    cache, events = _cache(model_dir, clock)
    publish(model_dir, "iris", 1, trained.logistic)
    good = cache.get("iris", 1)

    publish(model_dir, "iris", 1, b"\x80\x05 half a pickle")
    clock.now += 10
    assert cache.get("iris", 1) is good
    clock.now += 10
    assert cache.get("iris", 1) is good
    assert events == ["ModelLoaded", "ModelLoadFailed"]  # the same bad file is not retried on every window
    assert cache.cached() == {("iris", 1): None}

    publish(model_dir, "iris", 1, trained.forest)
    clock.now += 10
    assert _estimator(cache.get("iris", 1)) == "RandomForestClassifier"


def test_a_file_truncated_in_place_keeps_serving_the_good_model(model_dir: Path, trained: TrainedModels) -> None:
    clock = Clock()
    cache, _ = _cache(model_dir, clock)
    path = publish(model_dir, "iris", 1, trained.logistic)
    good = cache.get("iris", 1)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])  # a writer that does not publish atomically, caught midway
    clock.now += 10
    assert cache.get("iris", 1) is good


def test_a_model_that_never_loaded_is_unavailable_until_fixed(model_dir: Path, trained: TrainedModels) -> None:
    clock = Clock()
    cache, _ = _cache(model_dir, clock)
    publish(model_dir, "iris", 1, b"garbage")
    with pytest.raises(ModelUnavailable, match="cannot be loaded"):
        cache.get("iris", 1)
    with pytest.raises(ModelUnavailable):
        cache.get("iris")
    assert "cannot be loaded" in str(cache.cached()[("iris", 1)])

    publish(model_dir, "iris", 1, trained.logistic)
    clock.now += 10
    assert cache.get("iris").version == 1


def test_least_recently_used_models_are_evicted_to_stay_under_the_byte_bound(
    model_dir: Path, trained: TrainedModels
) -> None:
    clock = Clock()
    for version in (1, 2, 3):
        publish(model_dir, "iris", version, trained.logistic)
    probe, _ = _cache(model_dir, clock)
    cost = probe.get("iris", 1).size_bytes
    cache, events = _cache(model_dir, clock, max_bytes=2 * cost)

    cache.get("iris", 1)
    cache.get("iris", 2)
    cache.get("iris", 1)  # 2 is now the least recently used
    cache.get("iris", 3)

    assert set(cache.cached()) == {("iris", 1), ("iris", 3)}
    assert cache.cached_bytes == 2 * cost <= cache.max_bytes
    assert events.count("ModelEvicted") == 1


def test_a_model_costs_what_it_holds_in_memory_not_its_compressed_file(model_dir: Path) -> None:
    import joblib
    from sklearn.datasets import make_classification
    from sklearn.ensemble import RandomForestClassifier

    features, labels = make_classification(n_samples=2000, n_features=10, random_state=0)
    forest = RandomForestClassifier(n_estimators=30, random_state=0).fit(features, labels)
    path = publish(model_dir, "forest", 1, forest)
    joblib.dump(forest, path, compress=9)
    cache, _ = _cache(model_dir, Clock(), measure_resident=True)

    model = cache.get("forest", 1)

    nodes = sum(tree.tree_.node_count for tree in forest.estimators_)
    assert model.size_bytes >= nodes * forest.estimators_[0].tree_.__getstate__()["nodes"].itemsize
    assert model.size_bytes > 3 * path.stat().st_size  # a compressed file holds a fraction of what loads


def test_a_model_larger_than_the_bound_is_a_503_saying_what_it_needs(model_dir: Path, trained: TrainedModels) -> None:
    clock = Clock()
    publish(model_dir, "iris", 1, trained.logistic)
    publish(model_dir, "forest", 1, trained.forest)
    probe, _ = _cache(model_dir, clock)
    small = probe.get("iris", 1).size_bytes
    cache, events = _cache(model_dir, clock, max_bytes=small + 1)

    assert cache.get("iris", 1).version == 1
    with pytest.raises(ModelUnavailable, match=r"needs .* MB of memory, more than the model cache's"):
        cache.get("forest", 1)
    clock.now += 10  # past the refresh window: the file is unchanged, so it is not loaded again
    with pytest.raises(ModelUnavailable, match="more than the model cache's"):
        cache.get("forest", 1)

    assert events.count("ModelTooLarge") == 1 and events.count("ModelLoaded") == 1
    assert set(cache.cached()) == {("iris", 1), ("forest", 1)} and cache.cached_bytes == small
    assert cache.get("iris", 1).version == 1  # the model that fits keeps serving


def test_a_file_larger_than_the_bound_is_not_even_loaded(model_dir: Path, trained: TrainedModels) -> None:
    path = publish(model_dir, "forest", 1, trained.forest)
    cache, events = _cache(model_dir, Clock(), max_bytes=path.stat().st_size - 1)

    with pytest.raises(ModelUnavailable, match="needs at least"):
        cache.get("forest", 1)
    assert "ModelLoaded" not in events


def test_latest_follows_new_versions_after_the_window(model_dir: Path, trained: TrainedModels) -> None:
    clock = Clock()
    cache, _ = _cache(model_dir, clock)
    publish(model_dir, "iris", 1, trained.logistic)
    assert cache.get("iris").version == 1

    publish(model_dir, "iris", 2, trained.forest)
    assert cache.get("iris").version == 1
    clock.now += 5
    assert cache.get("iris").version == 2
    assert cache.versions("iris") == [1, 2]


def test_a_deleted_latest_version_falls_back_to_the_previous_one(model_dir: Path, trained: TrainedModels) -> None:
    clock = Clock()
    cache, _ = _cache(model_dir, clock)
    publish(model_dir, "iris", 1, trained.logistic)
    path = publish(model_dir, "iris", 2, trained.forest)
    assert cache.get("iris").version == 2

    path.unlink()
    clock.now += 5
    assert cache.get("iris").version == 1
    with pytest.raises(ModelNotFound):
        cache.get("iris", 2)


def test_unknown_names_and_versions_are_not_found(model_dir: Path, trained: TrainedModels) -> None:
    cache, _ = _cache(model_dir, Clock())
    publish(model_dir, "iris", 1, trained.logistic)
    for name, version in [("nope", None), ("iris", 2), ("..", None), ("../ml/models/iris", 1), ("", None)]:
        with pytest.raises(ModelNotFound):
            cache.get(name, version)


def test_the_feature_count_comes_from_metadata_when_the_estimator_has_none(model_dir: Path) -> None:
    from sklearn.feature_extraction.text import CountVectorizer
    from sklearn.naive_bayes import MultinomialNB
    from sklearn.pipeline import make_pipeline

    text_model = make_pipeline(CountVectorizer(), MultinomialNB()).fit(["good day", "bad day"], ["pos", "neg"])
    publish(model_dir, "words", 1, text_model)
    write_metadata(model_dir, "words", 1, feature_count=3)
    publish(model_dir, "words", 2, text_model)
    cache, _ = _cache(model_dir, Clock())
    assert cache.get("words", 1).feature_count == 3
    assert cache.get("words", 2).feature_count is None


def test_concurrent_readers_during_republishing_always_get_one_of_the_two_models(
    model_dir: Path, trained: TrainedModels
) -> None:
    cache, _ = _cache(model_dir, Clock(), refresh_seconds=0.0)
    publish(model_dir, "iris", 1, trained.logistic)
    expected = {"LogisticRegression", "RandomForestClassifier"}
    seen: set[str] = set()
    errors: list[BaseException] = []
    stop = threading.Event()

    def read() -> None:
        try:
            while not stop.is_set():
                model = cache.get("iris")
                model.runner.predict(SETOSA_ROW)
                seen.add(_estimator(model))
        except BaseException as error:  # any failure is the test's result
            errors.append(error)

    readers = [threading.Thread(target=read) for _ in range(3)]
    for reader in readers:
        reader.start()
    for round_number in range(40):
        publish(model_dir, "iris", 1, trained.forest if round_number % 2 else trained.logistic)
    stop.set()
    for reader in readers:
        reader.join(timeout=30)

    assert not errors
    assert seen <= expected and seen


def test_the_handler_serves_a_republished_model_without_a_restart(
    handler: ModuleType, model_dir: Path, trained: TrainedModels
) -> None:
    handler.configure(settings(model_dir, refresh_seconds=0.0))
    request = event_for("http", "POST", "/v2/models/iris/versions/1/infer", v2_request([6.0, 2.2, 5.0, 1.5], [1, 4]))
    publish(model_dir, "iris", 1, trained.named_labels)
    first = response_json(handler.lambda_handler(request, inference_context()))
    assert first["outputs"][0]["datatype"] == "BYTES"

    publish(model_dir, "iris", 1, trained.logistic)
    second = response_json(handler.lambda_handler(request, inference_context()))
    assert second["outputs"][0]["datatype"] == "INT64"


def test_threads_calling_the_handler_during_republishing_get_only_good_answers(
    handler: ModuleType, model_dir: Path, trained: TrainedModels
) -> None:
    handler.configure(settings(model_dir, refresh_seconds=0.0))
    publish(model_dir, "iris", 1, trained.logistic)
    request = event_for("rest", "POST", "/v2/models/iris/versions/1/infer", v2_request([5.1, 3.5, 1.4, 0.2], [1, 4]))
    answers: list[Any] = []
    stop = threading.Event()

    def call() -> None:
        while not stop.is_set():
            response = handler.lambda_handler(request, inference_context())
            answers.append((response["statusCode"], response_json(response)["outputs"][0]["data"]))

    callers = [threading.Thread(target=call) for _ in range(3)]
    for caller in callers:
        caller.start()
    for round_number in range(40):
        publish(model_dir, "iris", 1, trained.named_labels if round_number % 2 else trained.logistic)
    stop.set()
    for caller in callers:
        caller.join(timeout=30)

    assert answers
    assert {answer for status, data in answers for answer in data} <= {0, "setosa"}
    assert {status for status, _ in answers} == {200}


_COLD_LOAD = """
import sys
from pathlib import Path
from lambdas.common.runtimes import SklearnRunner
from lambdas.inference.cache import LoadedModel, ModelCache
cache = ModelCache(Path(sys.argv[1]), max_bytes=1 << 30, refresh_seconds=5.0, measure_resident=True)
print(cache.get("iris", 1).size_bytes)
"""


def test_a_cold_process_does_not_charge_its_first_model_for_importing_scikit_learn(
    model_dir: Path, trained: TrainedModels
) -> None:
    import subprocess
    import sys

    path = publish(model_dir, "iris", 1, trained.logistic)

    # A fresh interpreter, as a cold inference function: nothing of scikit-learn is imported before the load.
    done = subprocess.run(
        [sys.executable, "-c", _COLD_LOAD, str(model_dir)], capture_output=True, text=True, timeout=120, check=True
    )

    charged = int(done.stdout.strip().splitlines()[-1])  # after the load's log line
    assert charged < 1 << 20, f"a {path.stat().st_size}-byte LogisticRegression was charged {charged} bytes"


def _estimator(model: LoadedModel) -> str:
    assert isinstance(model.runner, SklearnRunner)
    return type(model.runner.estimator).__name__


def test_inference_trusts_the_operators_skops_types_never_those_on_efs(model_dir: Path, tmp_path: Path) -> None:
    from tests.support.payloads import MARKER_TYPE, payload_skops

    marker = tmp_path / "marker"
    directory = model_dir / "models" / "payload" / "1"
    directory.mkdir(parents=True)
    (directory / "model.skops").write_bytes(payload_skops(marker))
    write_metadata(model_dir, "payload", 1, feature_count=4)
    recorded = json.loads((directory / "metadata.json").read_text())
    (directory / "metadata.json").write_text(json.dumps({**recorded, "trusted_types": [MARKER_TYPE]}))

    cache, _ = _cache(model_dir, Clock())
    with pytest.raises(ModelUnavailable, match="untrusted types"):
        cache.get("payload", 1)
    assert not marker.exists(), "a trust list on EFS made inference run the file's code"

    trusting, _ = _cache(model_dir, Clock(), trusted_types=(MARKER_TYPE,))
    assert trusting.get("payload", 1).version == 1 and marker.exists()  # the operator's list is what counts
