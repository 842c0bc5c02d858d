"""XGBoost and LightGBM through their scikit-learn APIs, plain and inside pipelines: published by the real loader,
answered on both runtimes exactly as the model answers locally."""

from __future__ import annotations

from typing import Any

import lightgbm
import numpy as np
import pytest
import xgboost
from sklearn.datasets import load_iris, make_regression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from tests.support.served import Served

TREES = 20


def iris() -> tuple[np.ndarray, np.ndarray]:
    features, labels = load_iris(return_X_y=True)
    return np.asarray(features), np.asarray(labels)


def regression() -> tuple[np.ndarray, np.ndarray]:
    features, targets = make_regression(n_samples=300, n_features=6, noise=5.0, random_state=0)
    return features, targets


CLASSIFIERS = {
    "xgb-classifier": lambda: xgboost.XGBClassifier(n_estimators=TREES, max_depth=3, n_jobs=1),
    "lgbm-classifier": lambda: lightgbm.LGBMClassifier(n_estimators=TREES, num_leaves=8, verbose=-1, n_jobs=1),
    "xgb-pipeline": lambda: make_pipeline(StandardScaler(), xgboost.XGBClassifier(n_estimators=TREES, n_jobs=1)),
    "lgbm-pipeline": lambda: make_pipeline(
        StandardScaler(), lightgbm.LGBMClassifier(n_estimators=TREES, verbose=-1, n_jobs=1)
    ),
}
REGRESSORS: dict[str, Any] = {
    "xgb-regressor": lambda: xgboost.XGBRegressor(n_estimators=TREES, max_depth=3, n_jobs=1),
    "lgbm-regressor": lambda: lightgbm.LGBMRegressor(n_estimators=TREES, num_leaves=8, verbose=-1, n_jobs=1),
}


def _runtime(served: Served, name: str) -> str:
    return str(served.ok("GET", f"/v2/models/{name}")["platform"])


def _expected_platform(served: Served) -> str:
    return "onnxruntime_onnx" if served.runtime == "onnxruntime" else "sklearn"


def _sample(rows: np.ndarray) -> dict[str, Any]:
    """The rows a team checks its model on, uploaded beside it: the loader's probe for the conversion."""
    return {"instances": rows.tolist()}


@pytest.mark.parametrize("name", list(CLASSIFIERS))
def test_a_classifier_answers_labels_and_probabilities_as_it_does_locally(served: Served, name: str) -> None:
    features, labels = iris()
    model = CLASSIFIERS[name]().fit(features, labels)
    rows = features[::7]
    assert served.publish(name, model, sample=_sample(features[1::3]))["published"] == 1

    answer = served.ok(
        "POST",
        f"/v2/models/{name}/infer",
        {
            "inputs": [{"name": "input-0", "shape": list(rows.shape), "datatype": "FP64", "data": rows.tolist()}],
            "outputs": [{"name": "predict"}, {"name": "predict_proba"}],
        },
    )
    outputs = {output["name"]: output for output in answer["outputs"]}
    assert outputs["predict"]["data"] == model.predict(rows).tolist()
    np.testing.assert_allclose(
        np.reshape(outputs["predict_proba"]["data"], (len(rows), 3)), model.predict_proba(rows), atol=1e-5
    )
    v1 = served.ok("POST", f"/v1/models/{name}:predict", {"instances": rows.tolist()})["predictions"]
    assert v1 == model.predict(rows).tolist()
    assert _runtime(served, name) == _expected_platform(served)


@pytest.mark.parametrize("name", list(REGRESSORS))
def test_a_regressor_answers_as_it_does_locally(served: Served, name: str) -> None:
    features, targets = regression()
    model = REGRESSORS[name]().fit(features, targets)
    assert served.publish(name, model, sample=_sample(features[1::3]))["published"] == 1
    rows = features[::11]

    answer = served.ok("POST", f"/v1/models/{name}:predict", {"instances": rows.tolist()})["predictions"]

    np.testing.assert_allclose(answer, model.predict(rows), rtol=1e-5, atol=1e-4)
    assert _runtime(served, name) == _expected_platform(served)


@pytest.mark.parametrize("name", ["xgb-classifier", "xgb-pipeline"])
def test_xgboost_converts_on_generated_rows_placed_on_its_splits(served: Served, name: str) -> None:
    features, labels = iris()
    model = CLASSIFIERS[name]().fit(features, labels)

    assert served.publish("xgb", model)["published"] == 1

    assert _runtime(served, "xgb") == _expected_platform(served)
    if served.runtime == "onnxruntime":
        fast_path = served.metadata_file("xgb")["fast_path"]
        assert fast_path["probe"] == "generated" and fast_path["probe_rows"] > 385  # the split rows included


def test_lightgbm_without_a_sample_stays_on_scikit_learn_where_float32_splits_part_from_its_own(
    served: Served,
) -> None:
    # LightGBM compares float64 features with float64 thresholds; its ONNX graph compares float32. Generated rows
    # placed on the thresholds branch apart, so the parity check keeps the model on scikit-learn.
    features, labels = iris()
    model = lightgbm.LGBMClassifier(n_estimators=TREES, verbose=-1, n_jobs=1).fit(features, labels)

    assert served.publish("lgbm", model)["published"] == 1

    assert _runtime(served, "lgbm") == "sklearn"
    rows = features[::9]
    answer = served.ok("POST", "/v1/models/lgbm:predict", {"instances": rows.tolist()})["predictions"]
    assert answer == np.asarray(model.predict(rows)).tolist()


@pytest.mark.parametrize(("family", "version"), [("lightgbm", lightgbm.__version__), ("xgboost", xgboost.__version__)])
def test_the_metadata_names_the_family_and_the_version_serving_it(served: Served, family: str, version: str) -> None:
    features, labels = iris()
    model: Any = (CLASSIFIERS["lgbm-pipeline" if family == "lightgbm" else "xgb-pipeline"])().fit(features, labels)
    served.publish(family, model)

    parameters = served.ok("GET", f"/v2/models/{family}")["parameters"]

    assert parameters["estimator"] == "sklearn.pipeline.Pipeline"
    assert set(parameters["libraries"]) == {"scikit-learn", family}
    assert parameters["served_with"][family] == version


@pytest.mark.parametrize("family", ["xgboost", "lightgbm"])
def test_a_dataframe_pipeline_ending_in_a_family_answers_every_form_as_locally(served: Served, family: str) -> None:
    from sklearn.compose import ColumnTransformer
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder

    from tests.support.tables import NUMBERS, STRINGS, churned, customers, every_form

    final: Any = (
        xgboost.XGBClassifier(n_estimators=TREES, max_depth=3, n_jobs=1)
        if family == "xgboost"
        else lightgbm.LGBMClassifier(n_estimators=TREES, num_leaves=8, verbose=-1, n_jobs=1)
    )
    preprocess = ColumnTransformer(
        [("numbers", StandardScaler(), NUMBERS), ("strings", OneHotEncoder(handle_unknown="ignore"), STRINGS)]
    )
    train = customers(400)
    model = Pipeline([("preprocess", preprocess), ("model", final)]).fit(train, churned(train))
    asked = customers(6, seed=31)
    assert served.publish("churn", model)["published"] == 1

    expected = model.predict(asked).tolist()
    for form, answer in every_form(served, "churn", asked).items():
        assert answer == expected, form
    assert _runtime(served, "churn") == _expected_platform(served)  # one graph input per column
