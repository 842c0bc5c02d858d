"""serverless-sklearn publish's local check loads a model as the deployment will: with the operator's trusted skops
types, never those an MLflow directory lists."""

from __future__ import annotations

from pathlib import Path

import mlflow.sklearn
import pytest
import yaml
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression

from serverless_sklearn import checks
from serverless_sklearn.deployment import DeploymentError
from tests.support.payloads import DANGEROUS_TYPES, MARKER_TYPE, payload_skops


def _payload_directory(tmp_path: Path) -> tuple[Path, Path]:
    features, labels = load_iris(return_X_y=True)
    directory = tmp_path / "model"
    mlflow.sklearn.save_model(
        LogisticRegression(max_iter=300).fit(features, labels),
        directory,
        serialization_format="skops",
        pip_requirements=["scikit-learn"],
    )
    marker = tmp_path / "marker"
    (directory / "model.skops").write_bytes(payload_skops(marker))
    mlmodel = yaml.safe_load((directory / "MLmodel").read_text())
    mlmodel["flavors"]["sklearn"]["skops_trusted_types"] = DANGEROUS_TYPES
    (directory / "MLmodel").write_text(yaml.safe_dump(mlmodel))
    return directory, marker


def test_the_local_check_runs_no_code_an_mlflow_directory_trusts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SKOPS_TRUSTED_TYPES", raising=False)
    directory, marker = _payload_directory(tmp_path)

    with pytest.raises(DeploymentError, match="untrusted types"):
        checks.check(directory, None)
    assert not marker.exists()


def test_a_skops_file_with_a_payload_is_refused_by_the_local_check(tmp_path: Path) -> None:
    marker = tmp_path / "marker"
    (tmp_path / "model.skops").write_bytes(payload_skops(marker))

    with pytest.raises(DeploymentError, match=MARKER_TYPE):
        checks.check(tmp_path / "model.skops", None)
    assert not marker.exists()
