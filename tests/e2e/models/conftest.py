"""Models as teams train them, published by the real loader from moto S3 and asked through the inference handler.

Every test compares the API's answers with the model's own ``predict`` on the same rows, run here.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from lambdas.common.settings import Settings
from tests.support.inference import settings
from tests.support.loader import Loader
from tests.support.served import Served


@pytest.fixture(autouse=True)
def _fake_credentials(aws_credentials: None) -> None:
    return None


@pytest.fixture(params=["scikit-learn", "onnxruntime"])
def served(request: pytest.FixtureRequest, loader: Loader, model_dir: Path) -> Iterator[Served]:
    """The inference handler over the loader's repository, with the fast path served where it was published
    (``onnxruntime``) or not at all (``scikit-learn``)."""
    from lambdas.inference import handler

    handler.configure(settings(model_dir, onnx_fast_path=request.param == "onnxruntime"))
    yield Served(loader, handler, str(request.param))
    handler.configure(Settings.from_env())
