"""The loader's ONNX fast path: a conversion is published beside the model only when it answers as the model does,
and every switch and sample a user has keeps or drops it as documented."""

from __future__ import annotations

import io
import json
from typing import Any

import joblib
import numpy as np
import pytest
from sklearn.datasets import load_iris
from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
from sklearn.neighbors import KNeighborsClassifier

from lambdas.common.metadata import read_metadata
from lambdas.common.onnx_interface import open_session
from lambdas.common.repository import version_dir
from lambdas.loader import handler
from tests.support.loader import Loader, Models, counts

FEATURES, LABELS = load_iris(return_X_y=True)


def _dumped(model: Any) -> bytes:
    buffer = io.BytesIO()
    joblib.dump(model, buffer)
    return buffer.getvalue()


def _fast_path(loader: Loader, name: str, version: int = 1) -> dict[str, Any]:
    metadata = read_metadata(version_dir(loader.model_dir, name, version))
    assert metadata is not None
    record = dict(metadata.fast_path)
    return record


def _onnx_labels(loader: Loader, name: str, rows: np.ndarray, version: int = 1) -> np.ndarray:
    session = open_session(str(version_dir(loader.model_dir, name, version) / "model.onnx"))
    labels: np.ndarray = session.run(None, {session.get_inputs()[0].name: rows})[0]
    return labels


def test_a_forest_is_published_with_a_conversion_that_labels_iris_as_it_does(loader: Loader) -> None:
    forest = RandomForestClassifier(n_estimators=30, random_state=0).fit(FEATURES, LABELS)

    assert loader.invoke(loader.put("forest.joblib", _dumped(forest))) == counts(published=1)

    assert loader.files_in("forest") == ["metadata.json", "model.joblib", "model.onnx"]
    record = _fast_path(loader, "forest")
    assert record["runtime"] == "onnxruntime" and record["probe"] == "generated"
    assert record["max_probability_difference"] <= 1e-5
    assert _onnx_labels(loader, "forest", FEATURES).tolist() == forest.predict(FEATURES).tolist()


def test_a_model_the_converter_does_not_support_is_published_for_scikit_learn(loader: Loader) -> None:
    boosted = HistGradientBoostingClassifier(max_iter=5).fit(FEATURES, LABELS)

    assert loader.invoke(loader.put("boosted.joblib", _dumped(boosted))) == counts(published=1)

    assert loader.files_in("boosted") == ["metadata.json", "model.joblib"]
    record = _fast_path(loader, "boosted")
    assert record["runtime"] == "scikit-learn" and record["reason"].startswith("not converted: ")


def test_a_conversion_that_answers_differently_is_not_published(loader: Loader) -> None:
    # Neighbours at equal distances are ordered differently by onnxruntime: iris's repeated rows have many such ties.
    neighbours = KNeighborsClassifier().fit(FEATURES, LABELS)

    assert loader.invoke(loader.put("neighbours.joblib", _dumped(neighbours))) == counts(published=1)

    assert loader.files_in("neighbours") == ["metadata.json", "model.joblib"]
    assert "differ" in _fast_path(loader, "neighbours")["reason"]


def test_an_object_can_turn_its_fast_path_off_with_its_metadata(loader: Loader, models: Models) -> None:
    record = loader.put("iris.joblib", models.logistic, Metadata={"onnx": "false"})

    assert loader.invoke(record) == counts(published=1)

    assert loader.files_in("iris") == ["metadata.json", "model.joblib"]
    assert "metadata turns the fast path off" in _fast_path(loader, "iris")["reason"]


def test_a_deployment_without_the_fast_path_removes_conversions_as_models_are_republished(
    loader: Loader, models: Models, monkeypatch: pytest.MonkeyPatch
) -> None:
    loader.invoke(loader.put("iris.joblib", models.logistic))
    assert "model.onnx" in loader.files_in("iris")

    monkeypatch.setenv("ONNX_FAST_PATH", "false")
    handler.settings.cache_clear()  # a changed deployment starts new function instances
    assert loader.invoke(loader.put("iris.joblib", models.tree)) == counts(published=1)

    assert loader.files_in("iris") == ["metadata.json", "model.joblib"]
    assert "off for this deployment" in _fast_path(loader, "iris")["reason"]


def test_models_over_the_conversion_size_limit_stay_on_scikit_learn(
    loader: Loader, models: Models, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ONNX_MAX_MODEL_BYTES", str(len(models.logistic) - 1))

    assert loader.invoke(loader.put("iris.joblib", models.logistic)) == counts(published=1)

    assert loader.files_in("iris") == ["metadata.json", "model.joblib"]
    assert "ONNX_MAX_MODEL_BYTES" in _fast_path(loader, "iris")["reason"]


@pytest.mark.parametrize(
    ("sample_key", "model_key", "version"),
    [("iris.sample.json", "iris.joblib", 1), ("iris/2/sample.npy", "iris/2/model.joblib", 2)],
)
def test_a_sample_beside_the_model_is_the_probe_set(
    loader: Loader, models: Models, sample_key: str, model_key: str, version: int
) -> None:
    sample = FEATURES[::10]
    if sample_key.endswith(".npy"):
        buffer = io.BytesIO()
        np.save(buffer, sample)
        body = buffer.getvalue()
    else:
        body = json.dumps(sample.tolist()).encode()

    assert loader.invoke(loader.put(sample_key, body)) == counts(skipped=1), "a sample is not a bad model key"
    assert loader.invoke(loader.put(model_key, models.logistic)) == counts(published=1)

    record = _fast_path(loader, "iris", version)
    assert record["runtime"] == "onnxruntime"
    assert (record["probe"], record["probe_rows"]) == (sample_key.rsplit("/", 1)[-1], len(sample))


def test_a_sample_uploaded_after_its_model_checks_the_conversion_again(loader: Loader, models: Models) -> None:
    loader.invoke(loader.put("iris/1/model.joblib", models.logistic))
    assert _fast_path(loader, "iris")["probe"] == "generated"

    assert loader.invoke(loader.put("iris/1/sample.json", json.dumps(FEATURES.tolist()).encode())) == counts(
        published=1
    )

    record = _fast_path(loader, "iris")
    assert (record["runtime"], record["probe"], record["probe_rows"]) == ("onnxruntime", "sample.json", 150)
    assert "model.onnx" in loader.files_in("iris")


def test_a_sample_that_does_not_fit_the_model_keeps_it_on_scikit_learn(loader: Loader, models: Models) -> None:
    loader.invoke(loader.put("iris.sample.json", json.dumps([[1.0, 2.0]]).encode()))

    assert loader.invoke(loader.put("iris.joblib", models.logistic)) == counts(published=1)

    assert loader.files_in("iris") == ["metadata.json", "model.joblib"]
    assert "rows of 4 features" in _fast_path(loader, "iris")["reason"]


def test_a_sample_for_a_model_not_yet_published_is_kept_for_later(loader: Loader) -> None:
    assert loader.invoke(loader.put("iris/7/sample.json", b"[[1, 2, 3, 4]]")) == counts(skipped=1)
    assert not version_dir(loader.model_dir, "iris", 7).exists()


def test_deleting_a_model_removes_its_conversion_too(loader: Loader, models: Models) -> None:
    loader.invoke(loader.put("iris.joblib", models.logistic))

    assert loader.invoke(loader.delete("iris.joblib")) == counts(deleted=1)

    assert not version_dir(loader.model_dir, "iris", 1).exists()


def test_a_sample_for_a_model_that_no_longer_loads_fails_without_a_retry(loader: Loader, models: Models) -> None:
    loader.invoke(loader.put("iris/1/model.joblib", models.logistic))
    (version_dir(loader.model_dir, "iris", 1) / "model.joblib").write_bytes(b"no longer a model")

    assert loader.invoke(loader.put("iris/1/sample.json", json.dumps(FEATURES.tolist()).encode())) == counts(failed=1)


def test_a_sample_uploaded_after_its_model_signs_it_with_the_fast_path_off(
    loader: Loader, models: Models, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ONNX_FAST_PATH", "false")
    loader.invoke(loader.put("iris/1/model.joblib", models.logistic))
    first = read_metadata(version_dir(loader.model_dir, "iris", 1))
    assert first is not None and first.validation.serving_check is not None
    assert first.validation.serving_check.checked_on == "generated rows"

    assert loader.invoke(loader.put("iris/1/sample.json", json.dumps(FEATURES.tolist()).encode())) == counts(
        published=1
    )

    signed = read_metadata(version_dir(loader.model_dir, "iris", 1))
    assert signed is not None and signed.validation.serving_check is not None
    assert signed.validation.serving_check.checked_on == "sample.json"
    assert signed.fast_path["runtime"] == "scikit-learn"
    assert loader.files_in("iris") == ["metadata.json", "model.joblib"]
