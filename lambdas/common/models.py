"""Reading model files. Loading a pickle runs code: write access to the bucket is the trust boundary."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any


class ModelLoadError(Exception):
    """A model file that cannot be turned into a usable estimator; the reason is in the message."""


def load_model(path: Path, *, memory_map: bool = False, trusted: Sequence[str] = ()) -> Any:
    """Load a model file by its suffix; ``.skops`` files load only when every type in them is trusted by default
    or named in ``trusted``: the operator's ``skops_trusted_types`` (SKOPS_TRUSTED_TYPES), never a list an upload
    carries.

    ``memory_map``: map the arrays of an uncompressed joblib file instead of reading them (copy-on-write, so a model
    that adjusts its arrays while unpickling still loads): the whole object is built, its large arrays stay on disk.
    """
    try:
        if path.suffix == ".skops":
            return _load_skops(path, trusted)
        if path.suffix in (".joblib", ".pkl"):
            import joblib  # imported on first use: a process serving only ONNX models never needs it

            return joblib.load(path, mmap_mode="c" if memory_map else None)
    except ModelLoadError:
        raise
    except MemoryError:
        raise ModelLoadError(f"{path.name}: not enough memory to load") from None
    except Exception as error:  # any unpickling failure means the file is not a usable model
        raise ModelLoadError(f"{path.name}: {type(error).__name__}: {error}") from error
    raise ModelLoadError(f"{path.name}: unknown model format {path.suffix!r}")


def _load_skops(path: Path, trusted: Sequence[str]) -> Any:
    import skops.io

    # Read once: the bytes that were checked are the bytes that load, even if the file is replaced meanwhile.
    data = path.read_bytes()
    untrusted = [name for name in skops.io.get_untrusted_types(data=data) if name not in trusted]
    if untrusted:
        raise ModelLoadError(
            f"{path.name}: refusing untrusted types {untrusted}; a deployment that trusts them lists them in "
            "skops_trusted_types (SKOPS_TRUSTED_TYPES)"
        )
    return skops.io.loads(data, trusted=list(trusted) or None)


def check_estimator(model: Any) -> int | None:
    """Raise ModelLoadError unless the object can predict; return its feature count when it declares one."""
    if not callable(getattr(model, "predict", None)):
        raise ModelLoadError(f"loaded object of type {type(model).__name__} has no predict method")
    features = getattr(model, "n_features_in_", None)
    return int(features) if isinstance(features, int | float) and not isinstance(features, bool) else None
