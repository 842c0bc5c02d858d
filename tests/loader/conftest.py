"""Loader tests run with fake AWS credentials, before any client is made."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _fake_credentials(aws_credentials: None) -> None:
    return None
