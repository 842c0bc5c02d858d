"""Probe rows for checking a conversion: an uploaded sample is validated before use, and generated rows land where
implementations part ways."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest
from sklearn.datasets import load_iris
from sklearn.ensemble import RandomForestClassifier

from lambdas.loader.onnx_convert import NotConverted, generated_probe, read_sample
from lambdas.loader.samples import MAX_SAMPLE_ROWS


def _npy(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=True)
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("filename", "data", "reason"),
    [
        ("sample.json", b"{not json", "does not parse"),
        ("sample.json", json.dumps([[1, 2, 3]]).encode(), "rows of 4 features"),
        ("sample.json", json.dumps([1, 2, 3, 4]).encode(), "rows of 4 features"),
        ("sample.json", json.dumps([]).encode(), "rows of 4 features"),
        ("sample.json", json.dumps([["a", "b", "c", "d"]]).encode(), "finite numbers"),
        ("sample.json", b"[[1, 2, 3, NaN]]", "finite numbers"),
        ("sample.json", json.dumps([[0, 0, 0, 0]] * (MAX_SAMPLE_ROWS + 1)).encode(), "rows of 4 features"),
        ("sample.npy", _npy(np.array([[object()] * 4], dtype=object)), "does not parse"),
        ("sample.npy", b"not an array", "does not parse"),
    ],
)
def test_a_sample_that_cannot_probe_the_model_is_refused_with_its_reason(
    filename: str, data: bytes, reason: str
) -> None:
    with pytest.raises(NotConverted, match=reason):
        read_sample(data, filename, 4)


def test_a_sample_may_be_v1_instances_or_an_array() -> None:
    rows = [[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3]]
    assert read_sample(json.dumps({"instances": rows}).encode(), "sample.json", 4).rows.tolist() == rows
    assert read_sample(_npy(np.array(rows, dtype=np.float32)), "sample.npy", 4).rows.dtype == np.float64


def test_generated_rows_sit_on_tree_thresholds_and_one_float32_step_off_them() -> None:
    features, labels = load_iris(return_X_y=True)
    forest = RandomForestClassifier(n_estimators=10, random_state=0).fit(features, labels)
    thresholds = {float(t) for tree in forest.estimators_ for t in tree.tree_.threshold[tree.tree_.feature == 2]}

    rows = generated_probe(forest, 4).rows

    values = set(rows[:, 2].tolist())
    assert len(values & thresholds) > 10, "rows exactly on thresholds"
    above = {float(np.nextafter(np.float32(t), np.float32(np.inf))) for t in thresholds}
    assert values & above, "rows one float32 step above a threshold"
    assert np.array_equal(rows, generated_probe(forest, 4).rows), "the same rows every time"
