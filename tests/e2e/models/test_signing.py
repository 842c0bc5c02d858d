"""The loader signs each model in its serving form: expected answers from a sample must be reproduced, a model that
cannot answer is not published, and the scikit-learn version a model was saved with is recorded and shown."""

from __future__ import annotations

import io

import joblib
import numpy as np
import pytest
import sklearn
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression

from tests.support.estimators import ExplodingEstimator
from tests.support.served import Served
from tests.support.tables import customers, mixed_pipeline, records


def test_a_sample_with_the_answers_the_model_gave_is_reproduced_before_it_is_published(served: Served) -> None:
    model = mixed_pipeline()
    asked = customers(5, seed=20)
    sample = {
        "instances": records(asked),
        "predictions": model.predict(asked).tolist(),
        "probabilities": model.predict_proba(asked).tolist(),
    }

    assert served.publish("churn", model, sample=sample)["published"] == 1

    check = served.metadata_file("churn")["validation"]["serving_check"]
    assert (check["checked_on"], check["expected_answers"]) == ("churn.sample.json", "reproduced")


def test_a_model_that_does_not_reproduce_its_samples_answers_is_refused(served: Served) -> None:
    model = mixed_pipeline()
    asked = customers(5, seed=21)
    wrong = (1 - model.predict(asked)).tolist()

    summary = served.publish("churn", model, sample={"instances": records(asked), "predictions": wrong})

    assert summary["failed"] == 1 and summary["published"] == 0
    status, answer = served.call("GET", "/v2/models/churn/ready")
    assert status == 503 and "does not reproduce the predictions" in answer["error"], answer


def test_probabilities_off_by_more_than_the_tolerance_are_refused(served: Served) -> None:
    model = mixed_pipeline()
    asked = customers(3, seed=22)
    probabilities = model.predict_proba(asked) + 1e-4
    sample = {
        "instances": records(asked),
        "predictions": model.predict(asked).tolist(),
        "probabilities": probabilities.tolist(),
    }

    assert served.publish("churn", model, sample=sample)["failed"] == 1


def test_a_model_that_cannot_answer_in_its_serving_form_is_not_published(served: Served) -> None:
    assert served.publish("exploding", ExplodingEstimator())["failed"] == 1
    status, answer = served.call("GET", "/v2/models/exploding/ready")
    assert status == 503 and "cannot answer in its serving form" in answer["error"], answer


def _saved_by_older_scikit_learn() -> tuple[LogisticRegression, bytes]:
    """A model and its pickle as scikit-learn 1.6.1 would have written it: only the recorded version differs."""
    features, labels = load_iris(return_X_y=True)
    model = LogisticRegression(max_iter=500).fit(features, labels)
    buffer = io.BytesIO()
    joblib.dump(model, buffer)
    current = sklearn.__version__.encode()
    assert len(current) == len(OLDER) and buffer.getvalue().count(current) == 1
    return model, buffer.getvalue().replace(current, OLDER)


OLDER = b"1.6.1"
MISMATCH = f"scikit-learn 1.6.1 (served by {sklearn.__version__})"


def test_the_scikit_learn_version_a_model_was_saved_with_is_recorded_and_shown(served: Served) -> None:
    model, pickled = _saved_by_older_scikit_learn()
    record = served.loader.put("old.joblib", pickled)
    assert served.loader.invoke(record)["published"] == 1

    metadata = served.metadata_file("old")
    assert metadata["validation"]["trained_with_sklearn"] == "1.6.1"
    assert metadata["validation"]["version_mismatch"] == [MISMATCH]
    signature = metadata["signature"]
    assert signature["provenance"]["trained_with"] == {"scikit-learn": "1.6.1"}
    assert signature["provenance"]["served_with"] == {"scikit-learn": sklearn.__version__}
    parameters = served.ok("GET", "/v2/models/old")["parameters"]
    assert parameters["trained_with"] == {"scikit-learn": "1.6.1"}
    assert parameters["version_mismatch"] == [MISMATCH]
    rows = load_iris().data[:3]
    answer = served.ok("POST", "/v1/models/old:predict", {"instances": rows.tolist()})["predictions"]
    assert answer == model.predict(np.asarray(rows)).tolist()
    index = served.ok("POST", "/v2/repository/index", {})
    assert index == [{"name": "old", "version": "1", "state": "READY", "reason": f"served, but saved with {MISMATCH}"}]


def test_a_model_saved_by_this_scikit_learn_shows_no_mismatch(served: Served) -> None:
    features, labels = load_iris(return_X_y=True)
    served.publish("current", LogisticRegression(max_iter=500).fit(features, labels))

    validation = served.metadata_file("current")["validation"]
    assert validation["trained_with_sklearn"] == sklearn.__version__
    assert validation["version_mismatch"] == []
    assert "version_mismatch" not in served.ok("GET", "/v2/models/current")["parameters"]


def test_the_reject_policy_refuses_a_model_saved_by_another_minor_version(
    served: Served, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MODEL_VERSION_POLICY", "reject")
    _, pickled = _saved_by_older_scikit_learn()
    features, labels = load_iris(return_X_y=True)

    assert served.loader.invoke(served.loader.put("old.joblib", pickled))["failed"] == 1
    assert served.publish("current", LogisticRegression(max_iter=500).fit(features, labels))["published"] == 1

    status, answer = served.call("GET", "/v2/models/old/ready")
    assert status == 503 and MISMATCH in answer["error"] and "MODEL_VERSION_POLICY=reject" in answer["error"]
    assert served.call("GET", "/v2/models/current/ready")[0] == 200
