"""One prediction from request to what follows its answer: routed by the model's serving settings, answered, and
then, once the answer is rendered, shadowed and captured as the settings ask, with the per-model metrics written in
the same log write.

What follows the answer never changes it: the shadow version's answer is compared and captured, never returned, and
a shadow that fails is counted and logged, not seen by the caller.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pybase64

from lambdas.common.errors import InferenceError, ModelNotFound
from lambdas.common.payloads import OutputTensor
from lambdas.inference import binary, capture
from lambdas.inference.binary import BinaryAnswer
from lambdas.inference.body import encode_json, header
from lambdas.inference.cache import LoadedModel
from lambdas.inference.capture import Payload
from lambdas.inference.observability import logger, model_metrics, write_lines
from lambdas.inference.protocol import InferAnswer
from lambdas.inference.service import InferenceService, Routed
from lambdas.inference.traffic import sampled

ROUTE_KEY_HEADER = "x-route-key"
INFERENCE_ID_HEADER = "x-inference-id"
VERSION_HEADER = "X-Model-Version"
# Shadow answers agree with the served one when labels are equal and values within this distance.
AGREEMENT_TOLERANCE = 1e-6

Answer = InferAnswer | OutputTensor
Rendered = dict[str, Any] | BinaryAnswer


@dataclass(slots=True)  # built for every prediction: a plain slotted class builds in half the time of a frozen one
class Prediction:
    event: dict[str, Any]
    routed: Routed
    value: Answer
    answer: Callable[[LoadedModel], Any]  # answers the same request with another version
    render: Callable[[Any], Rendered]
    started: float

    @property
    def body(self) -> Rendered:
        return self.render(self.value)

    @property
    def version(self) -> int:
        return self.routed.model.version


def predict(
    service: InferenceService,
    event: dict[str, Any],
    name: str,
    version: str | None,
    answer: Callable[[LoadedModel], Any],
    render: Callable[[Any], Rendered],
) -> Prediction:
    """Route, then answer; a failure of a model that exists is counted against that model before it is answered."""
    started = time.perf_counter()
    try:
        routed = service.route(name, version, header(event.get("headers"), ROUTE_KEY_HEADER))
    except ModelNotFound:
        raise  # names that are not models get no metrics of their own
    except Exception as error:
        _count_failure(name, None, error)
        raise
    try:
        value = answer(routed.model)
    except Exception as error:
        _count_failure(name, routed.model.version, error)
        raise
    return Prediction(event, routed, value, answer, render, started)


def follow_up(service: InferenceService, prediction: Prediction, content_type: str, body: str | bytes) -> None:
    """After the answer is rendered: the per-model metrics, the capture record, the shadow's answer and its record,
    in one write to the log stream. Never raises: the caller's answer is already made."""
    routed = prediction.routed
    model = routed.model
    elapsed_ms = (time.perf_counter() - prediction.started) * 1000
    lines = [model_metrics(model.name, model.version, {"Requests": 1, "Latency": elapsed_ms})]
    settings = routed.settings
    if settings is not None and settings.follows_answers:
        request: Payload | None = None
        if sampled(settings.capture_percent):
            request = _request_payload(prediction.event)
            lines.append(_record(prediction, request, Payload(content_type, body), model.version, shadow=False))
        shadow = settings.shadow
        if routed.routed and shadow is not None and shadow.version != model.version and sampled(shadow.percent):
            lines.extend(_shadow(service, prediction, shadow.version, request))
    try:
        write_lines([line for line in lines if line is not None])
    except Exception:  # e.g. a closed log stream: the answer still goes out
        logger.exception("could not write the prediction's metrics or capture records")


def _shadow(service: InferenceService, prediction: Prediction, version: int, request: Payload | None) -> list[Any]:
    name = prediction.routed.model.name
    try:
        shadow_model = service.cache.get(name, version)
        value = prediction.answer(shadow_model)
        content_type, body = encoded(prediction.render(value))
    except Exception as error:
        logger.warning(
            "the shadow version failed; the served answer is unchanged",
            extra={"model": name, "shadow_version": version, "reason": f"{type(error).__name__}: {error}"},
        )
        return [model_metrics(name, version, {"ShadowFailed": 1})]
    verdict = "ShadowAgreement" if agree(prediction.value, value) else "ShadowDisagreement"
    request = request or _request_payload(prediction.event)
    return [
        model_metrics(name, version, {verdict: 1}),
        _record(prediction, request, Payload(content_type, body), version, shadow=True),
    ]


def _record(prediction: Prediction, request: Payload, response: Payload, version: int, *, shadow: bool) -> bytes:
    inference_id = _headers(prediction.event).get(INFERENCE_ID_HEADER)
    if not isinstance(inference_id, str):
        inference_id = None
    return capture.record(
        request, response, model=prediction.routed.model.name, version=version, shadow=shadow, inference_id=inference_id
    )


def _headers(event: dict[str, Any]) -> dict[str, Any]:
    """The event's headers by lower-case name (the handler gives every event form lower-case names)."""
    headers = event.get("headers")
    return headers if type(headers) is dict else {}


def _request_payload(event: dict[str, Any]) -> Payload:
    content_type = _headers(event).get("content-type")
    content_type = content_type if isinstance(content_type, str) else "application/json"
    raw = event.get("body") or ""
    if event.get("isBase64Encoded"):
        return Payload(content_type, pybase64.b64decode(raw))
    return Payload(content_type, raw if isinstance(raw, str) else str(raw))


def encoded(rendered: Rendered) -> tuple[str, str | bytes]:
    """An answer's content type and body as it goes out: JSON text, or the binary extension's bytes."""
    if isinstance(rendered, BinaryAnswer):
        return binary.CONTENT_TYPE, rendered.body
    return "application/json", encode_json(rendered)


def agree(served: Answer, shadow: Answer) -> bool:
    """Equal labels, or values within AGREEMENT_TOLERANCE, output by output."""
    left, right = _tensors(served), _tensors(shadow)
    if len(left) != len(right):
        return False
    for a, b in zip(left, right, strict=True):
        if a.name != b.name or a.data.shape != b.data.shape:
            return False
        if a.data.dtype.kind in "iuf" and b.data.dtype.kind in "iuf":
            if not np.allclose(a.data, b.data, rtol=0.0, atol=AGREEMENT_TOLERANCE, equal_nan=True):
                return False
        elif not np.array_equal(a.data, b.data):
            return False
    return True


def _tensors(value: Answer) -> tuple[OutputTensor, ...]:
    return value.outputs if isinstance(value, InferAnswer) else (value,)


def _count_failure(name: str, version: int | None, error: Exception) -> None:
    status = error.status_code if isinstance(error, InferenceError) else 500
    kind = "ServerErrors" if status >= 500 else "ClientErrors"
    try:
        write_lines([line for line in [model_metrics(name, version, {"Requests": 1, kind: 1})] if line is not None])
    except Exception:
        logger.exception("could not write the model's error metrics")
