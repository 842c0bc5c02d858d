"""Environments: the functions' settings as deployed, and the explicit environment every measured child gets."""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from bench.timing import REPO_ROOT
from local_stack.moto_server import FAKE_CREDENTIALS

# The two runtimes the functions offer, by the value of ONNX_FAST_PATH.
PATH_NAMES = {False: "scikit-learn path", True: "fast path"}


def function_settings(model_dir: Path, onnx_fast_path: bool) -> dict[str, str]:
    """The settings Terraform gives both functions (modules/compute/main.tf), at their defaults, for one directory."""
    return {
        "MODEL_DIR": str(model_dir),
        "MODEL_PREFIX": "",
        "MODEL_REFRESH_SECONDS": "5",
        "ALLOWED_MODEL_FORMATS": "joblib,pkl,skops",
        "ONNX_FAST_PATH": "true" if onnx_fast_path else "false",
    }


def lambda_logging(service: str) -> dict[str, str]:
    """What else Terraform sets: Powertools' service and namespace, and the log level."""
    return {
        "POWERTOOLS_SERVICE_NAME": service,
        "POWERTOOLS_METRICS_NAMESPACE": "ServerlessSklearn",
        "LOG_LEVEL": "INFO",
    }


def child_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """A minimal environment: nothing inherited that could change what a child does or where it connects."""
    env = {
        "PATH": os.environ.get("PATH", os.defpath),
        "LANG": "C.UTF-8",
        "PYTHONPATH": str(REPO_ROOT),
        **FAKE_CREDENTIALS,
        "AWS_REGION": FAKE_CREDENTIALS["AWS_DEFAULT_REGION"],
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        "AWS_EC2_METADATA_DISABLED": "true",
    }
    env.update(extra or {})
    return env


@contextmanager
def overlay(values: Mapping[str, str]) -> Iterator[None]:
    """Set variables in this process for the duration, then restore them.

    Settings are also passed explicitly; this covers code that reads a variable itself rather than through
    Settings, so a setting can never silently fail to switch between two measurements in one process.
    """
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
