"""Hostile HTTP input through the local stack: always a JSON 4xx, never a 5xx, a hang or a huge allocation."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import joblib
import pytest
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression

from local_stack.process import StackProcess, http_request, running_stack, wait_for_status

pytestmark = pytest.mark.e2e

MAX_REQUEST_BYTES = 64 * 1024
# Anything that allocates in proportion to a claimed shape would take far longer than this.
JSON = {"content-type": "application/json"}


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StackProcess]:
    features, labels = load_iris(return_X_y=True)
    model = tmp_path_factory.mktemp("model") / "iris.joblib"
    joblib.dump(LogisticRegression(max_iter=1000).fit(features, labels), model)
    env = {"MAX_REQUEST_BYTES": str(MAX_REQUEST_BYTES)}
    with running_stack(tmp_path_factory.mktemp("efs"), env=env) as running:
        running.aws("s3", "cp", str(model), f"s3://{running.bucket}/iris.joblib")
        wait_for_status(f"{running.inference_url}/v2/models/iris/ready", 200, timeout=30)
        yield running


def tensor(shape: Any, data: Any, datatype: str = "FP64") -> bytes:
    return json.dumps({"inputs": [{"name": "input-0", "shape": shape, "datatype": datatype, "data": data}]}).encode()


def raw_tensor(data_literal: str) -> bytes:
    """A V2 body with a data literal that json.dumps would never write (NaN, Infinity, 1e999)."""
    head = b'{"inputs": [{"name": "x", "shape": [1, 4], "datatype": "FP64", "data": ['
    return head + data_literal.encode() + b", 1, 1, 1]}]}"


def nested(depth: int) -> bytes:
    return b'{"inputs": ' + b"[" * depth + b"]" * depth + b"}"


def strict_json(body: bytes) -> Any:
    def refuse(constant: str) -> Any:
        raise ValueError(f"{constant} is not JSON")

    return json.loads(body, parse_constant=refuse)


V2 = "/v2/models/iris/infer"
BAD_REQUEST = (400,)
UNKNOWN = (400, 404)

HOSTILE: list[tuple[str, str, str, bytes | None, tuple[int, ...]]] = [
    # (case id, method, path, body, acceptable statuses)
    ("body-over-limit", "POST", V2, tensor([1, 4], [1.0] * 20000), (413,)),
    ("body-over-gateway-limit", "POST", V2, b"[" + b"1," * (6 * 1024 * 1024) + b"1]", (413,)),
    ("nested-arrays-30k", "POST", V2, nested(30_000), BAD_REQUEST),
    ("nested-arrays-5k", "POST", V2, nested(5_000), BAD_REQUEST),
    ("nested-arrays-1500", "POST", V2, nested(1_500), BAD_REQUEST),
    ("nested-objects", "POST", V2, b'{"id": ' + b'{"a": ' * 5000 + b"1" + b"}" * 5000 + b"}", BAD_REQUEST),
    ("nan", "POST", V2, raw_tensor("NaN"), BAD_REQUEST),
    ("infinity", "POST", V2, raw_tensor("Infinity"), BAD_REQUEST),
    ("minus-infinity", "POST", V2, raw_tensor("-Infinity"), BAD_REQUEST),
    ("overflowing-number", "POST", V2, raw_tensor("1e999"), BAD_REQUEST),
    ("huge-shape", "POST", V2, tensor([10**9, 10**9], [1, 2, 3, 4]), BAD_REQUEST),
    ("huge-shape-int64", "POST", V2, tensor([2**62, 4], [1, 2, 3, 4]), BAD_REQUEST),
    ("huge-shape-many-dims", "POST", V2, tensor([1000] * 64, [1, 2, 3, 4]), BAD_REQUEST),
    ("negative-shape", "POST", V2, tensor([-1, 4], [1, 2, 3, 4]), BAD_REQUEST),
    ("float-shape", "POST", V2, tensor([1.5, 4], [1, 2, 3, 4]), BAD_REQUEST),
    ("shape-data-mismatch", "POST", V2, tensor([2, 4], [1, 2, 3, 4]), BAD_REQUEST),
    ("wrong-feature-count", "POST", V2, tensor([1, 3], [1, 2, 3]), BAD_REQUEST),
    ("strings-as-fp64", "POST", V2, tensor([1, 4], ["a", "b", "c", "d"]), BAD_REQUEST),
    ("bytes-datatype", "POST", V2, tensor([1, 4], ["a", "b", "c", "d"], "BYTES"), BAD_REQUEST),
    ("unknown-datatype", "POST", V2, tensor([1, 4], [1, 2, 3, 4], "FP128"), BAD_REQUEST),
    ("objects-as-data", "POST", V2, tensor([1, 4], [{}, {}, {}, {}]), BAD_REQUEST),
    ("no-inputs", "POST", V2, b'{"inputs": []}', BAD_REQUEST),
    ("inputs-not-a-list", "POST", V2, b'{"inputs": "x"}', BAD_REQUEST),
    ("body-is-a-list", "POST", V2, b"[1, 2, 3]", BAD_REQUEST),
    ("body-is-null", "POST", V2, b"null", BAD_REQUEST),
    ("empty-body", "POST", V2, b"", (400, 415)),
    ("not-json", "POST", V2, b"predict please", (400, 415)),
    ("not-utf8", "POST", V2, b'{"inputs": "\xff\xfe"}', (400, 415)),
    ("unknown-output", "POST", V2, b'{"inputs": [], "outputs": [{"name": "decision_function_x"}]}', BAD_REQUEST),
    ("traversal-name", "POST", "/v2/models/..%2F..%2Fetc%2Fpasswd/infer", tensor([1, 4], [1, 2, 3, 4]), UNKNOWN),
    ("dot-dot-name", "GET", "/v2/models/../ready", None, UNKNOWN),
    ("encoded-dot-dot", "GET", "/v2/models/%2e%2e/ready", None, UNKNOWN),
    ("unicode-name", "GET", "/v2/models/%E2%98%83/ready", None, UNKNOWN),
    ("nul-in-name", "GET", "/v2/models/iris%00/ready", None, UNKNOWN),
    ("long-name", "GET", "/v2/models/" + "a" * 5000 + "/ready", None, UNKNOWN),
    ("unknown-model", "POST", "/v2/models/no-such-model/infer", tensor([1, 4], [1, 2, 3, 4]), (404,)),
    ("version-zero", "GET", "/v2/models/iris/versions/0/ready", None, UNKNOWN),
    ("version-negative", "GET", "/v2/models/iris/versions/-1/ready", None, UNKNOWN),
    ("version-huge", "GET", "/v2/models/iris/versions/99999999999999999999999/ready", None, UNKNOWN),
    ("version-text", "GET", "/v2/models/iris/versions/latest%2F..%2F1/ready", None, UNKNOWN),
    ("unknown-version", "GET", "/v2/models/iris/versions/7", None, (404,)),
    ("v1-traversal", "POST", "/v1/models/..%2Firis:predict", b'{"instances": [[1, 2, 3, 4]]}', UNKNOWN),
    ("v1-nan", "POST", "/v1/models/iris:predict", b'{"instances": [[NaN, 2, 3, 4]]}', BAD_REQUEST),
    ("v1-ragged", "POST", "/v1/models/iris:predict", b'{"instances": [[1, 2, 3, 4], [1]]}', BAD_REQUEST),
    ("inference-traversal", "POST", "/inference", b'{"name": "../iris", "inputs": [[1, 2, 3, 4]]}', UNKNOWN),
    ("inference-unicode", "POST", "/inference", '{"name": "\u00efris", "inputs": [[1, 2, 3, 4]]}'.encode(), UNKNOWN),
    ("inference-name-not-text", "POST", "/inference", b'{"name": ["iris"], "inputs": [[1, 2, 3, 4]]}', BAD_REQUEST),
    ("inference-infinity", "POST", "/inference", b'{"name": "iris", "inputs": [[Infinity, 2, 3, 4]]}', BAD_REQUEST),
    ("wrong-method", "GET", V2, None, (405,)),
    ("unknown-route", "GET", "/v3/everything", None, (404,)),
]


@pytest.mark.parametrize(
    ("method", "path", "body", "acceptable"),
    [pytest.param(method, path, body, ok, id=case) for case, method, path, body, ok in HOSTILE],
)
def test_hostile_request_gets_a_json_4xx(
    stack: StackProcess, method: str, path: str, body: bytes | None, acceptable: tuple[int, ...]
) -> None:
    # A hang would end in the client's own timeout, failing the request: no clock is read here.
    answer = http_request(method, f"{stack.inference_url}{path}", data=body, headers=JSON if body else None)

    assert answer.status in acceptable, (answer.status, answer.body[:300])
    error = strict_json(answer.body)
    assert isinstance(error, dict)
    assert isinstance(error.get("error", error.get("message")), str)
    assert "Traceback" not in answer.body.decode("utf-8", "replace")


def test_the_model_still_answers_after_the_hostile_requests(stack: StackProcess) -> None:
    answer = http_request("POST", f"{stack.inference_url}{V2}", data=tensor([1, 4], [5.1, 3.5, 1.4, 0.2]), headers=JSON)

    assert answer.status == 200, answer.body
    assert sorted(path.name for path in (stack.model_dir / "models").iterdir()) == ["iris"]
