"""Checking a downloaded model file before it is published: it loads as the inference function loads it, it answers
in its serving form (and is signed from those answers), and the library versions it was saved with pass the
deployment's policy. Each step gives or refines the typed ``Validation`` that ``metadata.json`` records."""

from __future__ import annotations

import warnings
from dataclasses import dataclass, replace
from functools import cache
from pathlib import Path
from typing import Any

from lambdas.common import libraries
from lambdas.common.metadata import ServingCheck, Validation
from lambdas.common.models import ModelLoadError, check_estimator, load_model
from lambdas.common.signature import PREDICT, Declared, Signature
from lambdas.loader import samples, signing
from lambdas.loader.errors import ModelInvalid
from lambdas.loader.samples import SampleError, SampleFile

# Models at least this large are validated with their arrays memory-mapped rather than read into memory.
MEMORY_MAP_BYTES = 64 * 1024 * 1024
_LIBRARIES = ("scikit-learn", "numpy", "scipy", "joblib", "skops", "skl2onnx", "onnxruntime")


@dataclass(frozen=True)
class Loaded:
    model: Any
    feature_count: int | None
    validation: Validation


def load_checked(path: Path, *, trusted: tuple[str, ...] = ()) -> Loaded:
    """Load the file as the inference function will; raise ModelInvalid with the reason when it cannot serve."""
    memory_map = path.stat().st_size >= MEMORY_MAP_BYTES
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            model = load_model(path, memory_map=memory_map, trusted=trusted)
            feature_count = check_estimator(model)
        except ModelLoadError as error:
            raise ModelInvalid(str(error).replace(path.name, "model file")) from error
    model_type = type(model)
    # A compressed file cannot be memory-mapped and loads as usual: that notice is about this check, not the model.
    notes = {f"{w.category.__name__}: {w.message}" for w in caught if "mmap_mode" not in str(w.message)}
    validation = Validation(
        estimator=f"{model_type.__module__}.{model_type.__qualname__}",
        trained_with_sklearn=_trained_with_sklearn(caught),
        # e.g. scikit-learn's InconsistentVersionWarning when the model was saved by another version
        warnings=tuple(sorted(notes)[:20]),
    )
    return Loaded(model, feature_count, validation)


def _trained_with_sklearn(caught: list[warnings.WarningMessage]) -> str | None:
    """The scikit-learn version that saved the model: unpickling under another version warns with it (scikit-learn
    keeps it in the pickle and removes it from the object on load); no warning means this version saved it."""
    for warning in caught:
        original = getattr(warning.message, "original_sklearn_version", None)
        if isinstance(original, str):
            return original
    return None


def sign(
    loaded: Loaded,
    sample: SampleFile | SampleError | None,
    declared: Declared | None = None,
    default_output: str = PREDICT,
) -> tuple[Signature, Validation]:
    """Sign the model in its serving form; the validation gains how it was checked."""
    parsed = None
    note = None
    if isinstance(sample, SampleError):
        note = str(sample)
    elif sample is not None:
        try:
            parsed = samples.parse(sample)
        except SampleError as error:
            note = str(error)
    signed = signing.sign(
        loaded.model,
        parsed,
        loaded.validation.trained_with_sklearn,
        declared=declared,
        default_output=default_output,
    )
    check = ServingCheck(
        checked_on=signed.checked_on,
        expected_answers=signed.expected_answers,
        notes=(note, *signed.notes) if note else tuple(signed.notes),
    )
    return signed.signature, replace(loaded.validation, serving_check=check)


def apply_version_policy(signature: Signature, validation: Validation, version_policy: str) -> Validation:
    """Record the versions the model was saved with beside those serving it; under ``reject``, refuse a model
    saved by another minor version (MODEL_VERSION_POLICY)."""
    provenance = signature.provenance
    if provenance is None:
        return validation
    mismatches = provenance.mismatches()
    if mismatches and version_policy == "reject":
        raise ModelInvalid(
            f"the model was saved with {', '.join(mismatches)}; MODEL_VERSION_POLICY=reject refuses a model saved "
            "by another minor version than the one serving it"
        )
    return replace(
        validation, trained_with_sklearn=provenance.trained_with.get("scikit-learn"), version_mismatch=mismatches
    )


@cache
def library_versions() -> dict[str, str]:
    """The versions of Python and of the libraries that checked the model."""
    return libraries.library_versions(_LIBRARIES)
