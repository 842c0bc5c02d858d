"""What the running process has: the versions of the libraries installed, and the methods an estimator offers."""

from __future__ import annotations

import importlib.metadata
import platform
from collections.abc import Iterable
from typing import Any


def has_method(estimator: Any, method: str) -> bool:
    """Whether an estimator offers a method; scikit-learn's ``available_if`` raises when it does not apply."""
    try:
        return callable(getattr(estimator, method, None))
    except Exception:  # available_if raises when the method does not apply to this configuration
        return False


def library_versions(libraries: Iterable[str]) -> dict[str, str]:
    """The running Python's version and those of the installed libraries among ``libraries``."""
    versions = {"python": platform.python_version()}
    for library in libraries:
        try:
            versions[library] = importlib.metadata.version(library)
        except importlib.metadata.PackageNotFoundError:
            continue
    return versions
