"""The batch job's state machine definition (modules/batch/state_machine.asl.json), rendered as Terraform renders it
and checked by a real validator of the States Language (asl-validator, pinned in scripts/asl-validate.sh)."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.support.paths import REPO

TEMPLATE = REPO / "modules" / "batch" / "state_machine.asl.json"
VALIDATOR = REPO / "scripts" / "asl-validate.sh"
VALUES = {
    "partition": "aws",
    "worker_arn": "arn:aws:lambda:us-east-1:123456789012:function:serverless-sklearn-batch",
    "ranges_per_worker": "4",
    "max_concurrency": "100",
}


def rendered(**overrides: str) -> str:
    values = {**VALUES, **overrides}
    text = TEMPLATE.read_text(encoding="utf-8")
    assert set(re.findall(r"\$\{(\w+)\}", text)) == set(values), "the template's variables changed"
    return re.sub(r"\$\{(\w+)\}", lambda match: values[match.group(1)], text)


def validate(definition: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    path = tmp_path / "definition.json"
    path.write_text(definition, encoding="utf-8")
    return subprocess.run(
        ["bash", str(VALIDATOR), "--json-path", str(path)], capture_output=True, text=True, timeout=300, check=False
    )


def test_the_definition_is_valid_states_language(tmp_path: Path) -> None:
    done = validate(rendered(), tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "is valid" in done.stdout


def test_the_validator_refuses_a_broken_definition(tmp_path: Path) -> None:
    broken: dict[str, Any] = json.loads(rendered())
    broken["States"]["Plan"]["Next"] = "Nowhere"
    done = validate(json.dumps(broken), tmp_path)
    assert done.returncode != 0


@pytest.fixture
def states() -> dict[str, Any]:
    definition: dict[str, Any] = json.loads(rendered(max_concurrency="250"))
    return definition["States"]


def test_ranges_are_scored_by_a_distributed_map_at_the_chosen_concurrency(states: dict[str, Any]) -> None:
    score = states["Score"]
    assert score["Type"] == "Map"
    assert score["ItemProcessor"]["ProcessorConfig"]["Mode"] == "DISTRIBUTED"
    assert score["MaxConcurrency"] == 250
    assert score["ItemBatcher"]["BatchInput"]["step"] == "score"
    assert score["ToleratedFailurePercentage"] == 0  # rows may be refused, ranges may not be lost


def test_every_call_of_the_worker_retries_throttling_with_backoff(states: dict[str, Any]) -> None:
    tasks = [states["Plan"], states["Assemble"], states["Score"]["ItemProcessor"]["States"]["ScoreRanges"]]
    for task in tasks:
        throttled = next(rule for rule in task["Retry"] if "Lambda.TooManyRequestsException" in rule["ErrorEquals"])
        assert throttled["BackoffRate"] > 1 and throttled["MaxAttempts"] >= 6
