"""A version's record (metadata.json) as both functions read it: one typed record with a format version; a record
of another format is never guessed at."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lambdas.common.metadata import METADATA_FILE, MetadataError, VersionMetadata, read_metadata
from lambdas.common.repository import version_dir
from lambdas.loader.signing import sign
from tests.support.inference import Invoke, TrainedModels, event_for, publish, response_json, write_metadata


def test_a_record_reads_back_as_it_was_written(model_dir: Path, trained: TrainedModels) -> None:
    written = write_metadata(model_dir, "iris", 3, signature=sign(trained.logistic, None, None).signature)

    assert read_metadata(version_dir(model_dir, "iris", 3)) == written
    assert json.loads((version_dir(model_dir, "iris", 3) / METADATA_FILE).read_text())["format_version"] == 1


@pytest.mark.parametrize(
    ("change", "reason"),
    [({"format_version": 2}, "format 2"), ({"format_version": None}, "format None"), ({"size": "big"}, "malformed")],
)
def test_a_record_of_another_format_or_shape_is_refused_with_the_reason(
    model_dir: Path, trained: TrainedModels, change: dict[str, object], reason: str
) -> None:
    write_metadata(model_dir, "iris", 3, signature=sign(trained.logistic, None, None).signature)
    path = version_dir(model_dir, "iris", 3) / METADATA_FILE
    path.write_text(json.dumps({**json.loads(path.read_text()), **change}))

    with pytest.raises(MetadataError, match=reason):
        VersionMetadata.from_json(path.read_text())


def test_a_version_whose_record_this_function_cannot_read_is_a_503_naming_it(
    invoke: Invoke, model_dir: Path, trained: TrainedModels
) -> None:
    publish(model_dir, "iris", 3, trained.logistic)
    (version_dir(model_dir, "iris", 3) / METADATA_FILE).write_text(json.dumps({"format_version": 7}))

    response = invoke(event_for("http", "GET", "/v2/models/iris/versions/3/ready"))

    assert response["statusCode"] == 503
    assert "format 7" in response_json(response)["error"]
    served = invoke(event_for("http", "GET", "/v2/models/iris/versions/1/ready"))
    assert served["statusCode"] == 200, "the other versions keep serving"
