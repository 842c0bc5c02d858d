"""The loader publishing a model's serving settings (``MODEL/serving.json``) as it publishes a model: checked against
the published versions, written atomically, refused with a verdict that leaves the old settings serving."""

from __future__ import annotations

import json
from typing import Any

import pytest

from lambdas.common.serving import read_published, read_settings_verdict, settings_path
from tests.support.loader import Loader, Models, counts


def settings_body(settings: dict[str, Any]) -> bytes:
    return json.dumps(settings).encode()


@pytest.fixture
def two_versions(loader: Loader, models: Models) -> Loader:
    assert loader.invoke(loader.put("iris/1/model.joblib", models.logistic)) == counts(published=1)
    assert loader.invoke(loader.put("iris/2/model.joblib", models.tree)) == counts(published=1)
    return loader


def test_settings_naming_published_versions_are_published(two_versions: Loader) -> None:
    settings = {"traffic": {"1": 90, "2": 10}, "shadow": {"version": "2", "percent": 20}, "capture": {"percent": 10}}

    assert two_versions.invoke(two_versions.put("iris/serving.json", settings_body(settings))) == counts(published=1)

    published = read_published(two_versions.model_dir, "iris")
    assert published is not None
    assert published.settings.to_json() == settings
    assert published.source_key == "iris/serving.json"
    assert published.rollback_version == 2  # version 2 was the latest, so it had all the traffic before


@pytest.mark.parametrize(
    ("settings", "reason"),
    [
        ({"traffic": {"1": 90, "7": 10}}, "version(s) 7"),
        ({"traffic": {"1": 0, "2": 0}}, "add up to more than 0"),
        ({"traffic": {"1": -5, "2": 10}}, "non-negative integer"),
        ({"traffic": {"1": 1.5}}, "non-negative integer"),
        ({"traffic": {"one": 100}}, "not a version"),
        ({"shadow": {"version": "9"}}, "version(s) 9"),
        ({"capture": {"percent": 150}}, "from 0 to 100"),
        ({"trafic": {"1": 100}}, "unknown keys ['trafic']"),
    ],
)
def test_bad_settings_are_refused_and_the_old_ones_keep_serving(
    two_versions: Loader, settings: dict[str, Any], reason: str
) -> None:
    good = {"traffic": {"1": 100}}
    assert two_versions.invoke(two_versions.put("iris/serving.json", settings_body(good))) == counts(published=1)

    assert two_versions.invoke(two_versions.put("iris/serving.json", settings_body(settings))) == counts(failed=1)

    published = read_published(two_versions.model_dir, "iris")
    assert published is not None and published.settings.to_json() == good
    verdict = read_settings_verdict(two_versions.model_dir, "iris")
    assert verdict is not None and reason in verdict.reason, verdict


def test_a_file_that_is_not_json_is_refused(two_versions: Loader) -> None:
    assert two_versions.invoke(two_versions.put("iris/serving.json", b"traffic: 1=100")) == counts(failed=1)
    verdict = read_settings_verdict(two_versions.model_dir, "iris")
    assert verdict is not None and "not JSON" in verdict.reason
    assert read_published(two_versions.model_dir, "iris") is None


def test_a_good_upload_after_a_refusal_clears_the_verdict(two_versions: Loader) -> None:
    two_versions.invoke(two_versions.put("iris/serving.json", settings_body({"traffic": {"5": 1}})))
    assert read_settings_verdict(two_versions.model_dir, "iris") is not None

    two_versions.invoke(two_versions.put("iris/serving.json", settings_body({"traffic": {"2": 1}})))

    assert read_settings_verdict(two_versions.model_dir, "iris") is None


def test_deleting_the_settings_lets_the_latest_version_serve_again(two_versions: Loader) -> None:
    two_versions.invoke(two_versions.put("iris/serving.json", settings_body({"traffic": {"1": 100}})))

    assert two_versions.invoke(two_versions.delete("iris/serving.json")) == counts(deleted=1)

    assert not settings_path(two_versions.model_dir, "iris").exists()


def test_an_older_settings_event_never_undoes_a_newer_one(two_versions: Loader) -> None:
    first = two_versions.put("iris/serving.json", settings_body({"traffic": {"1": 100}}))
    second = two_versions.put("iris/serving.json", settings_body({"traffic": {"2": 100}}))

    assert two_versions.invoke(second) == counts(published=1)
    assert two_versions.invoke(first) == counts(skipped=1)

    published = read_published(two_versions.model_dir, "iris")
    assert published is not None and published.settings.sole_version == 2


def test_the_versions_that_had_all_the_traffic_are_remembered_for_rollback(two_versions: Loader) -> None:
    published = None
    for settings in ({"traffic": {"1": 100}}, {"traffic": {"1": 90, "2": 10}}, {"traffic": {"2": 100}}):
        two_versions.invoke(two_versions.put("iris/serving.json", settings_body(settings)))
        published = read_published(two_versions.model_dir, "iris")
        assert published is not None
        if settings["traffic"] == {"1": 90, "2": 10}:
            assert published.rollback_version == 1  # split: back to the one that had it all
    assert published is not None
    assert published.rollback_version == 1  # version 2 has it all now: back to the one before
    assert published.sole_history == (2, 1, 2)
