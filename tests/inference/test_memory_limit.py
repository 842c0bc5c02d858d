"""The model cache's bound holds in real memory: a process under a hard address-space limit, serving compressed
models whose files fit the bound many times over but whose loaded size does not, survives, keeps its resident
memory within the bound plus a stated baseline, and answers every request right or with a clean 503."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import joblib
import numpy as np
import pytest
from sklearn.datasets import make_classification
from sklearn.ensemble import RandomForestClassifier

from local_stack.stack import REPO_ROOT
from tests.support.inference import publish

MODELS = 24
CACHE_BYTES = 80 * 1024 * 1024
# Address space the process may take beyond what it holds once everything is imported: room for the cache, one
# model loading, requests and allocator slack, and far less than every model loaded at once.
HEADROOM_BYTES = 200 * 1024 * 1024
# Resident memory beyond the cache's bound: the interpreter and libraries (measured in the child before any load)
# plus one model loading before the least recently used one is dropped, and slack for the allocator.
SLACK_BYTES = 60 * 1024 * 1024
ROUNDS = 2

CHILD = textwrap.dedent(
    """
    import json, os, resource, sys
    from pathlib import Path

    import numpy as np
    import sklearn.ensemble, sklearn.tree  # imported before the limit: loading code maps libraries, models do not
    from lambdas.common.settings import Settings
    from lambdas.inference import handler
    from tests.support.inference import event_for

    model_dir, names, rows, expected, rounds, headroom = sys.argv[1:7]
    names, rows, expected = json.loads(names), json.loads(rows), json.loads(expected)
    handler.configure(Settings.from_env(dict(os.environ, MODEL_DIR=model_dir)))
    page = os.sysconf("SC_PAGE_SIZE")
    statm = lambda: [int(v) * page for v in Path("/proc/self/statm").read_text().split()[:2]]
    virtual, baseline = statm()
    resource.setrlimit(resource.RLIMIT_AS, (virtual + int(headroom), virtual + int(headroom)))
    body = {"inputs": [{"name": "input-0", "shape": [len(rows), len(rows[0])], "datatype": "FP64", "data": rows}]}
    answers = {"right": 0, "unavailable": 0, "wrong": []}
    peak = baseline
    for _ in range(int(rounds)):
        for name in names:
            response = handler.lambda_handler(event_for("http", "POST", f"/v2/models/{name}/infer", body), None)
            status = response["statusCode"]
            if status == 200 and json.loads(response["body"])["outputs"][0]["data"] == expected:
                answers["right"] += 1
            elif status == 503:
                answers["unavailable"] += 1
            else:
                answers["wrong"].append([name, status, response["body"][:300]])
            peak = max(peak, statm()[1])
    print(json.dumps({"baseline": baseline, "peak": peak, "answers": answers}))
    """
)


@pytest.fixture(scope="module")
def repository(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[str], np.ndarray, list[int], int]:
    # About 2.5 MB compressed and 13 MB loaded: by file size all 24 fit the bound, loaded they take four times it.
    features, labels = make_classification(n_samples=20000, n_features=20, random_state=0)
    forest = RandomForestClassifier(n_estimators=60, random_state=0, n_jobs=2).fit(features, labels)
    forest.set_params(n_jobs=None)  # served single-threaded
    model_dir = tmp_path_factory.mktemp("efs")
    names = [f"forest-{index}" for index in range(MODELS)]
    packed = tmp_path_factory.mktemp("packed") / "forest.joblib"
    joblib.dump(forest, packed, compress=9)
    for name in names:  # the same compressed file under each name: each load is a model of its own in memory
        path = publish(model_dir, name, 1, packed.read_bytes())
    file_bytes = path.stat().st_size
    rows = features[:3]
    return model_dir, names, rows, forest.predict(rows).tolist(), file_bytes


def test_the_cache_bound_holds_in_memory_under_a_hard_limit(
    repository: tuple[Path, list[str], np.ndarray, list[int], int],
) -> None:
    model_dir, names, rows, expected, file_bytes = repository
    assert MODELS * file_bytes < CACHE_BYTES  # by file size every model would fit the bound at once
    env = {
        **os.environ,
        "MODEL_CACHE_MAX_BYTES": str(CACHE_BYTES),
        "ONNX_FAST_PATH": "false",
        "OPENBLAS_NUM_THREADS": "1",
        "OMP_NUM_THREADS": "1",
        # Lambda limits resident memory; the child limits address space, which glibc inflates with a 64 MB arena
        # per thread and heap it keeps after frees. These keep address space close to resident memory.
        "MALLOC_ARENA_MAX": "2",
        "MALLOC_MMAP_THRESHOLD_": "65536",
        "PYTHONPATH": str(REPO_ROOT),
    }
    arguments = [str(model_dir), json.dumps(names), json.dumps(rows.tolist()), json.dumps(expected)]
    done = subprocess.run(
        [sys.executable, "-c", CHILD, *arguments, str(ROUNDS), str(HEADROOM_BYTES)],
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO_ROOT,
        timeout=600,
        check=False,
    )

    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    answers = report["answers"]
    assert answers["wrong"] == [] and answers["right"] == MODELS * ROUNDS, answers
    assert report["peak"] <= report["baseline"] + CACHE_BYTES + SLACK_BYTES, report
