"""The scikit-learn runtime answers as the model's own methods do, and shows what the model warns as the process's
filters say, once per distinct warning."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.datasets import load_iris
from sklearn.ensemble import RandomForestClassifier

from lambdas.common.batch import Batch
from lambdas.common.runtimes import SklearnRunner


class Warning3Times(ClassifierMixin, BaseEstimator):
    """Warns the same thing three times per call (as a forest's trees can), then a second thing, then answers."""

    def fit(self, features: np.ndarray, labels: np.ndarray) -> Warning3Times:
        self.classes_ = np.unique(labels)
        self.n_features_in_ = features.shape[1]
        return self

    def predict(self, features: np.ndarray) -> np.ndarray:
        for _ in range(3):
            warnings.warn("the third column looks constant", UserWarning, stacklevel=1)
        warnings.warn("this estimator is deprecated", DeprecationWarning, stacklevel=1)
        if not np.isfinite(features).all():
            raise ValueError("features must be finite")
        return np.zeros(len(features), dtype=self.classes_.dtype)


@pytest.fixture(scope="module")
def iris() -> tuple[np.ndarray, np.ndarray]:
    return load_iris(return_X_y=True)


def test_a_forest_answers_as_its_own_predict_and_predict_proba(iris: tuple[np.ndarray, np.ndarray]) -> None:
    features, labels = iris
    forest = RandomForestClassifier(n_estimators=25, random_state=0).fit(features, labels)
    runner = SklearnRunner(forest)
    batch = Batch(len(features), features=features)
    np.testing.assert_array_equal(runner.predict(batch), forest.predict(features))
    np.testing.assert_array_equal(runner.predict_proba(batch), forest.predict_proba(features))


def test_each_distinct_warning_is_shown_once_under_the_callers_filters(iris: tuple[np.ndarray, np.ndarray]) -> None:
    features, labels = iris
    runner = SklearnRunner(Warning3Times().fit(features, labels))
    with warnings.catch_warnings(record=True) as shown:
        warnings.simplefilter("always")
        warnings.filterwarnings("ignore", category=DeprecationWarning)
        answer = runner.predict(Batch(2, features=features[:2]))
    assert answer.tolist() == [0, 0]
    assert [(w.category, str(w.message)) for w in shown] == [(UserWarning, "the third column looks constant")]


def test_the_processs_filters_are_back_after_an_answer_and_after_a_refusal(iris: tuple[np.ndarray, np.ndarray]) -> None:
    features, labels = iris
    runner = SklearnRunner(Warning3Times().fit(features, labels))
    with warnings.catch_warnings(record=True) as shown:
        warnings.simplefilter("always")
        warnings.filterwarnings("error", message="never raised")
        before = list(warnings.filters)
        runner.predict(Batch(1, features=features[:1]))
        assert warnings.filters == before
        with pytest.raises(ValueError, match="finite"):
            runner.predict(Batch(1, features=np.array([[np.inf, 0.0, 0.0, 0.0]])))
        assert warnings.filters == before
    # what the refused call warned before it raised is shown too
    assert sum(str(w.message) == "the third column looks constant" for w in shown) == 2
