"""A version the loader refuses is never served, and the API says why: /ready and metadata answer 503 with the
loader's reason, the repository index lists it as UNAVAILABLE, latest skips it, and a good upload replaces it."""

from __future__ import annotations

import io

import joblib
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression

from tests.support.served import Served

ROW = [5.1, 3.5, 1.4, 0.2]


def _model_bytes() -> bytes:
    features, labels = load_iris(return_X_y=True)
    buffer = io.BytesIO()
    joblib.dump(LogisticRegression(max_iter=500).fit(features, labels), buffer)
    return buffer.getvalue()


def test_a_corrupt_upload_is_a_503_with_the_loaders_reason(served: Served) -> None:
    assert served.loader.invoke(served.loader.put("iris.joblib", b"not a pickle"))["failed"] == 1

    for path in ("/v2/models/iris/ready", "/v2/models/iris/versions/1/ready", "/v2/models/iris"):
        status, answer = served.call("GET", path)
        assert status == 503, (path, answer)
        assert "refused by the loader" in answer["error"] and "model file" in answer["error"]
    status, _ = served.call(
        "POST", "/v2/models/iris/infer", {"inputs": [{"name": "x", "shape": [1, 4], "datatype": "FP64", "data": ROW}]}
    )
    assert status == 503
    [entry] = served.ok("POST", "/v2/repository/index", {})
    assert (entry["name"], entry["version"], entry["state"]) == ("iris", "1", "UNAVAILABLE")
    assert "refused by the loader" in entry["reason"]
    assert served.ok("POST", "/v2/repository/index", {"ready": True}) == []


def test_latest_skips_a_refused_version(served: Served) -> None:
    good = _model_bytes()
    assert served.loader.invoke(served.loader.put("iris/1/model.joblib", good))["published"] == 1
    assert served.loader.invoke(served.loader.put("iris/2/model.joblib", b"truncated"))["failed"] == 1

    body = {"inputs": [{"name": "x", "shape": [1, 4], "datatype": "FP64", "data": ROW}]}
    assert served.ok("POST", "/v2/models/iris/infer", body)["model_version"] == "1"
    assert served.call("GET", "/v2/models/iris/versions/2/ready")[0] == 503
    states = {(e["version"], e["state"]) for e in served.ok("POST", "/v2/repository/index", {})}
    assert ("2", "UNAVAILABLE") in states


def test_a_good_upload_replaces_the_verdict_and_deleting_the_refused_key_removes_it(served: Served) -> None:
    served.loader.invoke(served.loader.put("iris.joblib", b"not a pickle"))
    assert served.call("GET", "/v2/models/iris/ready")[0] == 503

    assert served.loader.invoke(served.loader.put("iris.joblib", _model_bytes()))["published"] == 1
    assert served.ok("GET", "/v2/models/iris/ready") == {"name": "iris", "ready": True}
    assert not (served.loader.model_dir / "models" / "iris" / "1" / "verdict.json").exists()

    served.loader.invoke(served.loader.put("other.joblib", b"not a pickle"))
    assert served.call("GET", "/v2/models/other/ready")[0] == 503
    assert served.loader.invoke(served.loader.delete("other.joblib"))["deleted"] == 1
    assert served.call("GET", "/v2/models/other/ready")[0] == 404
