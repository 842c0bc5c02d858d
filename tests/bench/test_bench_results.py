"""The benchmark's verdicts and labels: what a reader of `make bench` takes from each row."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench.events import served_runtime
from bench.results import Figure, table, write_results


def test_a_time_ratio_passes_at_or_under_its_target() -> None:
    assert Figure("warm", ours=130.0, baseline=100.0, unit="us", target=1.3).passed is True
    assert Figure("warm", ours=131.0, baseline=100.0, unit="us", target=1.3).passed is False


def test_a_throughput_ratio_passes_at_or_over_its_target() -> None:
    figure = Figure("loader", ours=90.0, baseline=100.0, unit="MB/s", better="higher", target=0.9)

    assert figure.ratio == pytest.approx(0.9)
    assert figure.passed is True
    assert Figure("loader", ours=89.0, baseline=100.0, unit="MB/s", better="higher", target=0.9).passed is False


def test_a_target_on_ours_ignores_the_ratio() -> None:
    # The loader may use ten times the CLI's memory as long as it stays under its own bound.
    assert Figure("peak", ours=180.0, baseline=18.0, unit="MB", target=200.0, target_of="ours").passed is True
    assert Figure("peak", ours=725.0, baseline=725.0, unit="MB", target=200.0, target_of="ours").passed is False


def test_a_figure_without_baseline_or_target_has_no_ratio_and_no_verdict() -> None:
    figure = Figure("local stack", ours=750.0, baseline=None, unit="req/s", better="higher")

    assert figure.ratio is None
    assert figure.passed is None


def test_results_are_a_json_list_of_records_with_the_required_fields(tmp_path: Path) -> None:
    figures = [
        Figure("warm LR", ours=140.0, baseline=100.0, unit="us (p50)", target=0.5, context={"runtime": "x"}),
        Figure("local stack", ours=750.0, baseline=None, unit="req/s", better="higher"),
    ]

    write_results(figures, tmp_path / "results.json")

    records = json.loads((tmp_path / "results.json").read_text(encoding="utf-8"))
    assert [record["name"] for record in records] == ["warm LR", "local stack"]
    assert records[0]["ratio"] == pytest.approx(1.4)
    assert (records[0]["ours"], records[0]["baseline"], records[0]["runtime"]) == (140.0, 100.0, "x")
    assert (records[0]["target"], records[0]["better"], records[0]["passed"]) == (0.5, "lower", False)
    assert (records[1]["ratio"], records[1]["baseline"], records[1]["passed"]) == (None, None, None)


def test_the_table_marks_each_row_against_its_target() -> None:
    lines = table(
        [
            Figure("meets", ours=1.0, baseline=1.0, unit="s", target=1.1),
            Figure("misses", ours=2.0, baseline=1.0, unit="s", target=1.1),
            Figure("context", ours=5.0, baseline=None, unit="req/s"),
        ]
    ).splitlines()

    rows = {line.split()[0]: line for line in lines[2:]}
    assert rows["meets"].endswith("pass")
    assert rows["misses"].endswith("FAIL")
    assert "2.000" in rows["misses"]
    assert not rows["context"].endswith(("pass", "FAIL"))


@pytest.mark.parametrize(
    ("metadata", "runtime"),
    [
        ({"name": "iris", "platform": "sklearn", "inputs": [], "outputs": []}, "scikit-learn"),
        ({"name": "iris", "platform": "sklearn", "runtime": "onnxruntime"}, "onnxruntime"),
        ({"name": "iris", "platform": "sklearn", "parameters": {"runtime": "sklearn"}}, "scikit-learn"),
        ({"name": "iris", "platform": "sklearn", "parameters": {"runtime": {"name": "ONNX Runtime"}}}, "onnxruntime"),
        ({"name": "iris", "platform": "sklearn", "onnx": True}, "onnxruntime"),
        ({"name": "iris", "platform": "sklearn", "onnx_fast_path": False}, "scikit-learn"),
        ({"name": "iris", "platform": "onnxruntime_onnx"}, "onnxruntime"),
    ],
)
def test_the_runtime_is_read_from_the_model_metadata(metadata: dict[str, object], runtime: str) -> None:
    assert served_runtime(metadata) == runtime
