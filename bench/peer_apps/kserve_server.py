"""The KServe peer of ``make bench-peers``: KServe's model server over every ``NAME.joblib`` in ``--model_dir``,
each served by a model class that does what KServe's sklearnserver does: ``joblib.load`` once, then ``predict`` on
the request's input as KServe's own helpers read it (a V1 ``instances`` list or a V2 tensor as an array, a V2
request with ``content_type`` ``pd`` as a DataFrame), answered in the request's protocol.

Run with the peer venv's Python: ``python kserve_server.py --model_dir DIR --http_port PORT --workers N``; every
option of KServe's model server applies.
"""

from __future__ import annotations

import argparse
import pathlib
from typing import Any

import joblib
import kserve
from kserve.model_server import parser as server_options
from kserve.utils.utils import get_predict_input, get_predict_response


class SKLearnModel(kserve.Model):  # type: ignore[misc]
    def __init__(self, name: str, path: pathlib.Path) -> None:
        super().__init__(name)
        self.path = path
        self.ready = False

    def load(self) -> bool:
        self._model = joblib.load(self.path)
        self.ready = True
        return self.ready

    def predict(self, payload: Any, headers: Any = None) -> Any:
        return get_predict_response(payload, self._model.predict(get_predict_input(payload)), self.name)


def main() -> None:
    options = argparse.ArgumentParser(parents=[server_options])
    options.add_argument("--model_dir", required=True)
    args, _ = options.parse_known_args()
    models = []
    for path in sorted(pathlib.Path(args.model_dir).glob("*.joblib")):
        model = SKLearnModel(path.stem, path)
        model.load()
        models.append(model)
    kserve.ModelServer(enable_grpc=False).start(models)


if __name__ == "__main__":
    main()
