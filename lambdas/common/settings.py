"""Settings read once from the environment at start-up; a bad value fails fast with the variable's name."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from lambdas.common.repository import MODEL_SUFFIXES

DEFAULT_MODEL_DIR = "/mnt/ml"
# Share of the function's memory the model cache may use; the rest is left for requests and the runtime.
CACHE_SHARE_OF_MEMORY = 0.5
DEFAULT_CACHE_BYTES = 1 << 30
# API Gateway and Lambda cap a synchronous payload at 6 MB; larger bodies never reach the function.
DEFAULT_MAX_REQUEST_BYTES = 6 * 1024 * 1024
# Converting a model to ONNX holds it and its graph in memory several times over; larger models stay on scikit-learn.
DEFAULT_ONNX_MAX_MODEL_BYTES = 128 * 1024 * 1024
DEFAULT_MAX_MODEL_BYTES = 4 * 1024**3  # 4 GiB
# What the loader does with a model saved by another scikit-learn minor version than the one serving it.
VERSION_POLICIES = ("serve", "reject")
_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off"})


class SettingsError(ValueError):
    """An environment variable holds a value the functions cannot run with."""


@dataclass(frozen=True)
class Settings:
    model_dir: Path
    model_prefix: str
    cache_max_bytes: int
    refresh_seconds: float
    max_request_bytes: int
    allowed_suffixes: frozenset[str]
    onnx_fast_path: bool = True
    onnx_max_model_bytes: int = DEFAULT_ONNX_MAX_MODEL_BYTES
    model_version_policy: str = "serve"
    # skops types the operator trusts beyond skops' defaults (SKOPS_TRUSTED_TYPES): never what an upload lists.
    skops_trusted_types: tuple[str, ...] = ()
    # The loader's own bucket (MODEL_BUCKET): events naming any other are refused. None: any (tests, emulators).
    model_bucket: str | None = None
    max_model_bytes: int = DEFAULT_MAX_MODEL_BYTES  # larger uploads are refused before any download

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        memory_mb = _positive_int(env, "AWS_LAMBDA_FUNCTION_MEMORY_SIZE", 0, allow_zero=True)
        default_cache = int(memory_mb * 1024 * 1024 * CACHE_SHARE_OF_MEMORY) if memory_mb else DEFAULT_CACHE_BYTES
        prefix = env.get("MODEL_PREFIX", "").strip("/")
        return cls(
            model_dir=Path(env.get("MODEL_DIR", DEFAULT_MODEL_DIR)),
            model_prefix=f"{prefix}/" if prefix else "",
            cache_max_bytes=_positive_int(env, "MODEL_CACHE_MAX_BYTES", default_cache),
            refresh_seconds=_non_negative_float(env, "MODEL_REFRESH_SECONDS", 5.0),
            max_request_bytes=_positive_int(env, "MAX_REQUEST_BYTES", DEFAULT_MAX_REQUEST_BYTES),
            allowed_suffixes=_suffixes(env.get("ALLOWED_MODEL_FORMATS", "")),
            onnx_fast_path=_flag(env, "ONNX_FAST_PATH", True),
            onnx_max_model_bytes=_positive_int(env, "ONNX_MAX_MODEL_BYTES", DEFAULT_ONNX_MAX_MODEL_BYTES),
            model_version_policy=_choice(env, "MODEL_VERSION_POLICY", VERSION_POLICIES),
            skops_trusted_types=skops_trusted_types(env),
            model_bucket=env.get("MODEL_BUCKET", "").strip() or None,
            max_model_bytes=_positive_int(env, "MAX_MODEL_BYTES", DEFAULT_MAX_MODEL_BYTES),
        )


def skops_trusted_types(env: Mapping[str, str] | None = None) -> tuple[str, ...]:
    """The skops types the operator trusts beyond skops' defaults: SKOPS_TRUSTED_TYPES, comma-separated."""
    raw = (os.environ if env is None else env).get("SKOPS_TRUSTED_TYPES", "")
    return tuple(sorted({name.strip() for name in raw.split(",") if name.strip()}))


def _choice(env: Mapping[str, str], name: str, choices: tuple[str, ...]) -> str:
    """One of ``choices`` (case-insensitive); the first when unset."""
    raw = env.get(name, "").strip().lower()
    if not raw:
        return choices[0]
    if raw not in choices:
        raise SettingsError(f"{name} must be one of {', '.join(choices)}, got {raw!r}")
    return raw


def _positive_int(env: Mapping[str, str], name: str, default: int, *, allow_zero: bool = False) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SettingsError(f"{name} must be an integer, got {raw!r}") from None
    if value < 0 or (value == 0 and not allow_zero):
        raise SettingsError(f"{name} must be positive, got {value}")
    return value


def _non_negative_float(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise SettingsError(f"{name} must be a number, got {raw!r}") from None
    if not value >= 0 or value == float("inf"):
        raise SettingsError(f"{name} must be a finite number >= 0, got {raw!r}")
    return value


def _flag(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = env.get(name, "").strip().lower()
    if not raw:
        return default
    if raw in _TRUE:
        return True
    if raw in _FALSE:
        return False
    raise SettingsError(f"{name} must be true or false, got {raw!r}")


def is_off(value: str | None) -> bool:
    """A flag value that turns something off (``false``, ``off``, ``no``, ``0``), as in object metadata."""
    return value is not None and value.strip().lower() in _FALSE


def _suffixes(raw: str) -> frozenset[str]:
    """ALLOWED_MODEL_FORMATS: comma-separated formats such as ``skops`` or ``joblib,pkl,skops``; empty means all."""
    names = [part.strip().lower().lstrip(".") for part in raw.split(",") if part.strip()]
    if not names:
        return frozenset(MODEL_SUFFIXES)
    suffixes = frozenset(f".{name}" for name in names)
    unknown = sorted(suffixes - set(MODEL_SUFFIXES))
    if unknown:
        raise SettingsError(f"ALLOWED_MODEL_FORMATS has unknown formats {unknown}; known: {sorted(MODEL_SUFFIXES)}")
    return suffixes
