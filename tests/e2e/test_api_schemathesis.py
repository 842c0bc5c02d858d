"""Property-based run of openapi.yaml against the inference handler behind the local stack's HTTP gateway.

Every generated request, valid or not, must get an answer that is not a 5xx and that the schema describes. The
requests go in turn to the model name schemathesis generated (almost always unknown), to a positional model and to
a DataFrame pipeline with named string and numeric columns, so the bodies meet both signatures.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import joblib
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression

from local_stack.process import StackProcess, running_stack, wait_for_status
from local_stack.stack import REPO_ROOT
from tests.support.tables import churned, customers, imputing_pipeline

pytestmark = pytest.mark.e2e

SCHEMA_PATH = Path(os.environ.get("OPENAPI_SCHEMA", REPO_ROOT / "openapi.yaml"))
# Per operation; enough to reach the edges of each body schema while the whole run stays within a few seconds.
EXAMPLES_PER_OPERATION = 15
CASES: list[str] = []
# None keeps the generated name.
TARGETS = (None, "iris", "churn")

schema = schemathesis.openapi.from_path(SCHEMA_PATH)


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StackProcess]:
    features, labels = load_iris(return_X_y=True)
    model = tmp_path_factory.mktemp("model") / "iris.joblib"
    joblib.dump(LogisticRegression(max_iter=1000).fit(features, labels), model)
    frame = customers(200, gaps=True)
    pipeline = model.with_name("churn.joblib")
    joblib.dump(imputing_pipeline().fit(frame, churned(frame)), pipeline)
    # The schema's checks run against an open stack; the signature is checked on every route by the gateway's tests.
    with running_stack(tmp_path_factory.mktemp("efs"), env={"LOCAL_API_AUTHORIZATION": "NONE"}) as running:
        for path in (model, pipeline):
            running.aws("s3", "cp", str(path), f"s3://{running.bucket}/{path.name}")
        for name in ("iris", "churn"):
            wait_for_status(f"{running.inference_url}/v2/models/{name}/ready", 200, timeout=30)
        yield running
    print(f"\nschemathesis: {len(CASES)} generated requests")


@schema.parametrize()
@settings(max_examples=EXAMPLES_PER_OPERATION, deadline=None, suppress_health_check=list(HealthCheck))
def test_every_answer_is_described_by_the_schema_and_none_is_a_5xx(case: Any, stack: StackProcess) -> None:
    target = TARGETS[len(CASES) % len(TARGETS)]
    CASES.append(case.operation.label)
    if target is not None and case.path_parameters and "name" in case.path_parameters:
        case.path_parameters["name"] = target
    # A schema cannot say which columns or how many features a model takes, so a schema-valid request may rightly
    # get a 400 (wrong shape, feature count or columns for that model); every other check applies.
    response = case.call_and_validate(
        base_url=stack.inference_url, timeout=10, excluded_checks=[schemathesis.checks.positive_data_acceptance]
    )
    assert response.status_code < 500
