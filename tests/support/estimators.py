"""Estimators that misbehave on purpose; module-level so that joblib can pickle them by reference."""

from __future__ import annotations

from typing import Any


class ExplodingEstimator:
    """Looks like a fitted model but fails inside predict with an error that is not the caller's fault."""

    n_features_in_ = 4

    def predict(self, features: Any) -> Any:
        raise RuntimeError("secret internal detail")
