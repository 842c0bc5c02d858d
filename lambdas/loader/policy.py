"""What a publish may do, from the deployment's settings: which skops types load, how large an upload may be, and
whether (and up to what size) a model is converted for the ONNX fast path."""

from __future__ import annotations

from dataclasses import dataclass

from lambdas.common.settings import Settings


@dataclass(frozen=True)
class PublishPolicy:
    fast_path: bool
    max_model_bytes: int  # the largest model converted to ONNX (ONNX_MAX_MODEL_BYTES)
    trusted_types: tuple[str, ...] = ()  # the operator's SKOPS_TRUSTED_TYPES
    max_upload_bytes: int | None = None  # larger uploads are refused before any byte is read (MAX_MODEL_BYTES)

    @classmethod
    def from_settings(cls, settings: Settings) -> PublishPolicy:
        return cls(
            fast_path=settings.onnx_fast_path,
            max_model_bytes=settings.onnx_max_model_bytes,
            trusted_types=settings.skops_trusted_types,
            max_upload_bytes=settings.max_model_bytes,
        )


OFF = PublishPolicy(fast_path=False, max_model_bytes=0)
