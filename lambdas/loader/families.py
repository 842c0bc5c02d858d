"""Model families beyond scikit-learn's own estimators that the fast path converts: XGBoost and LightGBM through
their scikit-learn APIs. onnxmltools holds their converters; they are registered into skl2onnx, so a pipeline that
ends in one converts as any other, under the same parity check.

Registration is done once, and only when a model uses the family: the loader never imports xgboost or lightgbm
for a scikit-learn model, and inference never imports onnxmltools.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable
from functools import cache
from typing import Any

# family distribution -> (module, estimator classes, converter module, converter function, skl2onnx alias prefix)
_FAMILIES: dict[str, tuple[str, tuple[str, ...], str, str, str]] = {
    "xgboost": (
        "xgboost",
        ("XGBClassifier", "XGBRegressor"),
        "onnxmltools.convert.xgboost.operator_converters.XGBoost",
        "convert_xgboost",
        "XGBoost",
    ),
    "lightgbm": (
        "lightgbm",
        ("LGBMClassifier", "LGBMRegressor"),
        "onnxmltools.convert.lightgbm.operator_converters.LightGbm",
        "convert_lightgbm",
        "LightGbm",
    ),
}
FAMILIES = tuple(_FAMILIES)


def register_converters(libraries: Iterable[str]) -> list[str]:
    """Register the converters of every family among ``libraries``; return the families registered."""
    registered = []
    for family in libraries:
        if family in _FAMILIES:
            _register(family)
            registered.append(family)
    return registered


@cache
def _register(family: str) -> None:
    from skl2onnx import update_registered_converter
    from skl2onnx.common.data_types import FloatTensorType
    from skl2onnx.common.shape_calculator import (
        calculate_linear_classifier_output_shapes,
        calculate_linear_regressor_output_shapes,
    )

    def classifier_shapes(operator: Any) -> None:
        calculate_linear_classifier_output_shapes(operator)
        _as_float32(operator.outputs[1:], FloatTensorType)

    def regressor_shapes(operator: Any) -> None:
        calculate_linear_regressor_output_shapes(operator)
        _as_float32(operator.outputs, FloatTensorType)

    module_name, classes, converter_module, converter_name, alias = _FAMILIES[family]
    module = importlib.import_module(module_name)
    converter: Callable[..., Any] = getattr(importlib.import_module(converter_module), converter_name)
    for class_name in classes:
        estimator = getattr(module, class_name)
        classifier = class_name.endswith("Classifier")
        update_registered_converter(
            estimator,
            f"{alias}{class_name}",
            classifier_shapes if classifier else regressor_shapes,
            converter,
            options={"nocl": [True, False], "zipmap": [True, False, "columns"]} if classifier else None,
        )


def _as_float32(variables: Any, float_type: Any) -> None:
    """The families' trees answer in float32 whatever their input: so say their outputs, or a float64 graph (a
    pipeline's scaling done in float64, as scikit-learn does it) would declare outputs its trees do not write."""
    for variable in variables:
        variable.type = float_type(variable.type.shape)


def split_thresholds(estimator: Any, feature_count: int) -> list[list[float]] | None:
    """Each feature's split thresholds in an XGBoost or LightGBM model, for the probe rows placed on them (where a
    float32 graph and a float64 library would branch apart); None for other estimators."""
    module = type(estimator).__module__.split(".")[0]
    found: list[list[float]] = [[] for _ in range(feature_count)]
    if module == "xgboost":
        import json

        booster = estimator.get_booster()
        names = booster.feature_names or [f"f{index}" for index in range(feature_count)]
        index_of = {name: index for index, name in enumerate(names)}
        pending = [json.loads(tree) for tree in booster.get_dump(dump_format="json")]
        while pending:
            node = pending.pop()
            if "split" in node and node["split"] in index_of:
                found[index_of[node["split"]]].append(float(node["split_condition"]))
            pending.extend(node.get("children", []))
        return found
    if module == "lightgbm":
        pending = [tree["tree_structure"] for tree in estimator.booster_.dump_model()["tree_info"]]
        while pending:
            node = pending.pop()
            feature = node.get("split_feature")
            if isinstance(feature, int) and 0 <= feature < feature_count and isinstance(node.get("threshold"), float):
                found[feature].append(node["threshold"])
            pending.extend(node[side] for side in ("left_child", "right_child") if side in node)
        return found
    return None
