"""How S3 keys map onto the model repository, and which keys are refused."""

from pathlib import Path

import pytest

from lambdas.common.repository import (
    InvalidKey,
    ModelKey,
    SampleKey,
    find_model_file,
    list_models,
    list_versions,
    parse_key,
    parse_sample_key,
    sample_keys,
)

VALID = [
    ("iris.joblib", "", ModelKey("iris", 1, ".joblib")),
    ("iris.pkl", "", ModelKey("iris", 1, ".pkl")),
    ("iris.skops", "", ModelKey("iris", 1, ".skops")),
    ("iris/3/model.joblib", "", ModelKey("iris", 3, ".joblib")),
    ("iris/1000000000/model.skops", "", ModelKey("iris", 1000000000, ".skops")),
    ("Iris_v2.1-final.joblib", "", ModelKey("Iris_v2.1-final", 1, ".joblib")),
    ("models/iris.joblib", "models/", ModelKey("iris", 1, ".joblib")),
    ("models/iris/7/model.pkl", "models/", ModelKey("iris", 7, ".pkl")),
    ("a" * 64 + ".joblib", "", ModelKey("a" * 64, 1, ".joblib")),
    ("9.joblib", "", ModelKey("9", 1, ".joblib")),
]

HOSTILE = [
    "",
    ".joblib",
    "..joblib",
    "...joblib",
    "../iris.joblib",
    "../../etc/passwd",
    "/iris.joblib",
    "/etc/iris/1/model.joblib",
    "iris/../1/model.joblib",
    "../1/model.joblib",
    "iris/./model.joblib",
    "./iris.joblib",
    "iris//model.joblib",
    "iris/1/../model.joblib",
    "iris\\..\\model.joblib",
    "iris\x00.joblib",
    "iris.exe",
    "iris.joblib.exe",
    "iris.JOBLIB",
    "iris",
    "iris.txt",
    "iris/0/model.joblib",
    "iris/-1/model.joblib",
    "iris/01/model.joblib",
    "iris/1.5/model.joblib",
    "iris/ 1/model.joblib",
    "iris/latest/model.joblib",
    "iris/1/weights.joblib",
    "iris/1/model.joblib/extra",
    "iris/1/2/model.joblib",
    "iris/10000000000/model.joblib",
    "-iris.joblib",
    "_iris.joblib",
    "ir is.joblib",
    "iris\n.joblib",
    "ирис.joblib",
    "a" * 65 + ".joblib",
    "iris;rm -rf.joblib",
    "iris/1/",
]


@pytest.mark.parametrize(("key", "prefix", "expected"), VALID)
def test_valid_keys_name_a_model_and_version(key: str, prefix: str, expected: ModelKey) -> None:
    assert parse_key(key, prefix) == expected


@pytest.mark.parametrize("key", HOSTILE)
def test_hostile_keys_are_refused(key: str) -> None:
    with pytest.raises(InvalidKey):
        parse_key(key)


def test_key_outside_the_prefix_is_refused() -> None:
    with pytest.raises(InvalidKey, match="prefix"):
        parse_key("other/iris.joblib", "models/")


def test_a_format_outside_the_allowed_set_is_refused() -> None:
    with pytest.raises(InvalidKey, match="allowed"):
        parse_key("iris.joblib", allowed_suffixes=frozenset({".skops"}))
    assert parse_key("iris.skops", allowed_suffixes=frozenset({".skops"})).suffix == ".skops"


def _publish(root: Path, name: str, version: str, filename: str = "model.joblib") -> None:
    directory = root / "models" / name / version
    directory.mkdir(parents=True, exist_ok=True)
    (directory / filename).write_bytes(b"x")


def test_only_version_directories_holding_a_model_file_count(tmp_path: Path) -> None:
    _publish(tmp_path, "iris", "1")
    _publish(tmp_path, "iris", "10")
    _publish(tmp_path, "iris", "2", filename=".model.joblib.tmp-123")
    _publish(tmp_path, "iris", "latest")
    _publish(tmp_path, "iris", "03")
    _publish(tmp_path, "..", "1")
    assert list_versions(tmp_path, "iris") == [1, 10]
    assert max(list_versions(tmp_path, "iris"), default=None) == 10
    assert list_models(tmp_path) == {"iris": [1, 10]}
    assert find_model_file(tmp_path / "models" / "iris" / "2") is None


def test_an_empty_repository_lists_nothing(tmp_path: Path) -> None:
    assert list_models(tmp_path) == {}
    assert max(list_versions(tmp_path, "iris"), default=None) is None
    assert list_versions(tmp_path, "../etc") == []


@pytest.mark.parametrize(
    ("key", "prefix", "expected"),
    [
        ("iris.sample.json", "", SampleKey("iris", 1, "sample.json")),
        ("iris/3/sample.npy", "", SampleKey("iris", 3, "sample.npy")),
        ("models/iris.sample.npy", "models/", SampleKey("iris", 1, "sample.npy")),
        ("iris.json", "", None),
        ("iris/3/samples.json", "", None),
        ("iris/03/sample.json", "", None),
        ("../3/sample.json", "", None),
        (".sample.json", "", None),
        ("iris.sample.json", "models/", None),
        ("a/b/c/sample.json", "", None),
    ],
)
def test_probe_sample_keys_name_the_model_version_they_belong_to(
    key: str, prefix: str, expected: SampleKey | None
) -> None:
    assert parse_sample_key(key, prefix) == expected


@pytest.mark.parametrize(
    ("model_key", "expected"),
    [
        ("iris.joblib", ("iris.sample.json", "iris.sample.npy")),
        ("models/iris.skops", ("models/iris.sample.json", "models/iris.sample.npy")),
        ("iris/3/model.pkl", ("iris/3/sample.json", "iris/3/sample.npy")),
    ],
)
def test_a_model_looks_for_its_sample_beside_its_own_key(model_key: str, expected: tuple[str, ...]) -> None:
    target = parse_key(model_key, "models/" if model_key.startswith("models/") else "")
    assert sample_keys(model_key, target) == expected
    assert all(parse_sample_key(key, "models/" if key.startswith("models/") else "") for key in expected)
