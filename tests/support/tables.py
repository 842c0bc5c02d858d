"""The customer tables and DataFrame pipelines the tests train, and every request form a client sends them in."""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from tests.support.served import Served

STRINGS = ["city", "plan", "device", "channel"]
NUMBERS = ["age", "income", "tenure", "visits", "spend", "rating"]
COLUMNS = [*NUMBERS, *STRINGS]


def customers(rows: int, seed: int = 0, *, gaps: bool = False) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "age": rng.integers(18, 80, rows).astype(float),
            "income": rng.normal(50_000, 12_000, rows),
            "tenure": rng.integers(0, 120, rows).astype(float),
            "visits": rng.poisson(4, rows).astype(float),
            "spend": rng.gamma(2.0, 40.0, rows),
            "rating": rng.uniform(1, 5, rows),
            "city": rng.choice(["Oslo", "Rome", "Lima", "Pune"], rows),
            "plan": rng.choice(["basic", "plus", "pro"], rows),
            "device": rng.choice(["ios", "android", "web"], rows),
            "channel": rng.choice(["ads", "search", "friend"], rows),
        }
    )
    if gaps:
        mask = rng.random((rows, len(COLUMNS))) < 0.1
        for index, column in enumerate(COLUMNS):
            frame.loc[mask[:, index], column] = np.nan if column in NUMBERS else None
    return frame


def churned(frame: pd.DataFrame) -> np.ndarray:
    score = frame["tenure"].fillna(60) / 120 - (frame["plan"] == "basic") * 0.4 + frame["rating"].fillna(3) / 10
    return (score < 0.3).to_numpy().astype(int)


def mixed_pipeline(*, dense: bool = False) -> Pipeline:
    encoder = OneHotEncoder(handle_unknown="ignore", sparse_output=not dense)
    preprocess = ColumnTransformer([("numbers", StandardScaler(), NUMBERS), ("strings", encoder, STRINGS)])
    train = customers(400)
    return Pipeline([("preprocess", preprocess), ("model", LogisticRegression(max_iter=500))]).fit(
        train, churned(train)
    )


def imputing_pipeline() -> Pipeline:
    preprocess = ColumnTransformer(
        [
            ("numbers", make_pipeline(SimpleImputer(strategy="median"), StandardScaler()), NUMBERS),
            (
                "strings",
                make_pipeline(SimpleImputer(strategy="most_frequent"), OneHotEncoder(handle_unknown="ignore")),
                STRINGS,
            ),
        ]
    )
    train = customers(400, gaps=True)
    return Pipeline([("preprocess", preprocess), ("model", LogisticRegression(max_iter=500))]).fit(
        train, churned(train)
    )


def records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Rows as a JSON client writes them: null for a missing value."""
    return [
        {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in row.items()}
        for row in json.loads(frame.to_json(orient="records"))
    ]


def per_column(frame: pd.DataFrame, *, content_type: bool, nested: bool = False) -> dict[str, Any]:
    """The MLServer/KServe PandasCodec request: one input per column."""
    inputs = []
    for column, values in zip(
        frame.columns, zip(*[list(r.values()) for r in records(frame)], strict=True), strict=True
    ):
        strings = any(isinstance(v, str) for v in values)
        data: list[Any] = [[v] for v in values] if nested else list(values)
        tensor: dict[str, Any] = {
            "name": column,
            "shape": [len(values), 1] if nested else [len(values)],
            "datatype": "BYTES" if strings else "FP64",
            "data": data,
        }
        inputs.append(tensor)
    body: dict[str, Any] = {"inputs": inputs}
    if content_type:
        body["parameters"] = {"content_type": "pd"}
    return body


def one_tensor(frame: pd.DataFrame) -> dict[str, Any]:
    rows = [list(r.values()) for r in records(frame)]
    return {
        "inputs": [{"name": "input-0", "shape": [len(rows), len(frame.columns)], "datatype": "BYTES", "data": rows}]
    }


def every_form(served: Served, name: str, frame: pd.DataFrame) -> dict[str, list[Any]]:
    """The model's predictions on ``frame`` through every request form a client may send."""
    v2 = f"/v2/models/{name}/infer"
    answers = {}
    for label, body in [
        ("v2 per column", per_column(frame, content_type=False)),
        ("v2 per column, pd", per_column(frame, content_type=True)),
        ("v2 per column [rows, 1]", per_column(frame, content_type=True, nested=True)),
        ("v2 one tensor", one_tensor(frame)),
    ]:
        answers[label] = served.ok("POST", v2, body)["outputs"][0]["data"]
    rows_in_order = [list(r.values()) for r in records(frame)]
    answers["v1 records"] = served.ok("POST", f"/v1/models/{name}:predict", {"instances": records(frame)})[
        "predictions"
    ]
    answers["v1 rows"] = served.ok("POST", f"/v1/models/{name}:predict", {"instances": rows_in_order})["predictions"]
    answers["original records"] = served.ok("POST", "/inference", {"name": name, "inputs": records(frame)})[
        "predicted_label"
    ]
    answers["original rows"] = served.ok("POST", "/inference", {"name": name, "inputs": rows_in_order})[
        "predicted_label"
    ]
    return answers
