"""Saves each ``NAME.joblib`` of a directory as an MLflow model directory ``NAME/`` beside it, with the peer venv's
MLflow, for ``mlflow models serve``: the signature inferred from sample rows (``SAMPLES/NAME.json``, as the
scoring protocol's ``dataframe_split``), so that MLflow checks requests against it as it would in production. The
model is saved with cloudpickle, a pickle as the other peers load: MLflow's default, skops, refuses a forest's trees
unless they are trusted by name."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import joblib
import mlflow.sklearn
import pandas as pd
from mlflow.models import infer_signature


def main(directory: str) -> None:
    for path in sorted(Path(directory).glob("*.joblib")):
        model = joblib.load(path)
        sample = json.loads((path.parent / "samples" / f"{path.stem}.json").read_text())
        frame = pd.DataFrame(sample["data"], columns=sample["columns"])
        example = frame if sample.get("named") else frame.to_numpy()
        signature = infer_signature(example, model.predict(example))
        mlflow.sklearn.save_model(
            model,
            str(path.parent / path.stem),
            signature=signature,
            serialization_format=mlflow.sklearn.SERIALIZATION_FORMAT_CLOUDPICKLE,  # a pickle, as every peer loads
            pip_requirements=[],
        )


if __name__ == "__main__":
    main(sys.argv[1])
