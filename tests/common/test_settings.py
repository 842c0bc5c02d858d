"""Settings come from the environment once and refuse values the functions cannot run with."""

from pathlib import Path

import pytest

from lambdas.common.settings import Settings, SettingsError


def test_defaults_fit_a_lambda_with_efs_at_mnt_ml() -> None:
    settings = Settings.from_env({"AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "2048"})
    assert settings.model_dir == Path("/mnt/ml")
    assert settings.cache_max_bytes == 1024 * 1024 * 1024
    assert settings.allowed_suffixes == {".joblib", ".pkl", ".skops"}
    assert settings.model_prefix == ""
    assert settings.onnx_fast_path is True
    assert settings.model_version_policy == "serve"


@pytest.mark.parametrize(("value", "expected"), [("reject", "reject"), ("Serve", "serve"), ("", "serve")])
def test_the_version_policy_is_serve_or_reject(value: str, expected: str) -> None:
    assert Settings.from_env({"MODEL_VERSION_POLICY": value}).model_version_policy == expected


@pytest.mark.parametrize(("value", "expected"), [("false", False), ("FALSE", False), ("0", False), ("true", True)])
def test_the_onnx_fast_path_follows_its_deployment_switch(value: str, expected: bool) -> None:
    assert Settings.from_env({"ONNX_FAST_PATH": value}).onnx_fast_path is expected


def test_prefix_is_normalised_to_end_in_one_slash() -> None:
    assert Settings.from_env({"MODEL_PREFIX": "/models/"}).model_prefix == "models/"


def test_a_deployment_can_accept_only_skops() -> None:
    assert Settings.from_env({"ALLOWED_MODEL_FORMATS": "skops"}).allowed_suffixes == {".skops"}


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("MODEL_CACHE_MAX_BYTES", "lots"),
        ("MODEL_CACHE_MAX_BYTES", "0"),
        ("MODEL_REFRESH_SECONDS", "-1"),
        ("MODEL_REFRESH_SECONDS", "nan"),
        ("MAX_REQUEST_BYTES", "-5"),
        ("ALLOWED_MODEL_FORMATS", "onnx"),
        ("ONNX_FAST_PATH", "maybe"),
        ("ONNX_MAX_MODEL_BYTES", "0"),
        ("MODEL_VERSION_POLICY", "warn"),
    ],
)
def test_bad_values_fail_fast_naming_the_variable(name: str, value: str) -> None:
    with pytest.raises(SettingsError, match=name):
        Settings.from_env({name: value})


def test_the_skops_types_the_operator_trusts_come_from_skops_trusted_types() -> None:
    assert Settings.from_env({}).skops_trusted_types == ()
    trusted = Settings.from_env({"SKOPS_TRUSTED_TYPES": " numpy.dtype,collections.OrderedDict,,numpy.dtype "})
    assert trusted.skops_trusted_types == ("collections.OrderedDict", "numpy.dtype")
