"""The loader against moto S3: what lands in the model directory for each S3 event, in order or not."""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any

import boto3
import pytest

from lambdas.common.metadata import read_metadata
from lambdas.common.models import load_model
from lambdas.common.repository import list_models, list_versions, version_dir
from lambdas.common.verdicts import read_verdict
from lambdas.loader.events import compare_sequencers, parse_record
from tests.support.context import loader_context
from tests.support.events import load_event, s3_event, s3_record
from tests.support.loader import BUCKET, Loader, Models, counts, sha256


def test_fixture_events_parse_as_s3_records() -> None:
    put = parse_record(load_event("s3_put")["Records"][0])
    delete = parse_record(load_event("s3_delete")["Records"][0])
    assert (put.action.value, put.object.key, put.object.sequencer) == ("created", "iris.joblib", "0055AED6DCD90281E5")
    assert delete.action.value == "removed"
    assert not delete.removes_one_version
    assert compare_sequencers(put.object.sequencer or "", delete.object.sequencer or "") < 0


def test_a_put_publishes_the_model_with_its_metadata(versioned_s3: Any, loader: Loader, models: Models) -> None:
    record = loader.put("iris.joblib", models.logistic)

    assert loader.invoke(record) == counts(published=1)

    directory = version_dir(loader.model_dir, "iris", 1)
    assert loader.files_in("iris") == ["metadata.json", "model.joblib", "model.onnx"]
    assert (directory / "model.joblib").read_bytes() == models.logistic
    assert type(load_model(directory / "model.joblib")).__name__ == "LogisticRegression"
    metadata = read_metadata(directory)
    assert metadata is not None
    assert metadata.source_bucket == BUCKET
    assert metadata.source_key == "iris.joblib"
    assert metadata.version_id == record["s3"]["object"]["versionId"]
    assert metadata.etag == record["s3"]["object"]["eTag"]
    assert metadata.sequencer == record["s3"]["object"]["sequencer"]
    assert metadata.size == len(models.logistic)
    assert metadata.sha256 == sha256(models.logistic)
    assert metadata.feature_count == 4
    assert metadata.validation.result == "loaded"
    assert metadata.validation.estimator.endswith("LogisticRegression")
    assert metadata.fast_path["runtime"] == "onnxruntime"
    assert {"python", "scikit-learn", "numpy", "scipy", "joblib", "skops", "onnxruntime"} <= set(metadata.libraries)
    assert metadata.published_at
    assert not list((loader.model_dir / "models").rglob(".*")), "no temporary file is left"
    assert not (loader.model_dir / "models" / "state").exists(), "bookkeeping stays out of models/"


def test_the_versioned_key_form_lands_in_its_version(loader: Loader, models: Models) -> None:
    assert loader.invoke(loader.put("iris/3/model.skops", models.logistic_skops)) == counts(published=1)
    assert loader.invoke(loader.put("iris/12/model.joblib", models.tree)) == counts(published=1)

    assert list_models(loader.model_dir) == {"iris": [3, 12]}
    assert loader.files_in("iris", 3) == ["metadata.json", "model.onnx", "model.skops"]
    assert max(list_versions(loader.model_dir, "iris"), default=None) == 12


def test_an_overwrite_serves_the_new_content(versioned_s3: Any, loader: Loader, models: Models) -> None:
    loader.invoke(loader.put("iris.joblib", models.logistic))

    assert loader.invoke(loader.put("iris.joblib", models.tree)) == counts(published=1)

    model_file = loader.model_file("iris")
    assert model_file is not None and model_file.read_bytes() == models.tree
    assert type(load_model(model_file)).__name__ == "DecisionTreeClassifier"
    metadata = read_metadata(model_file.parent)
    assert metadata is not None and metadata.sha256 == sha256(models.tree)


def test_a_delete_removes_the_version_and_latest_falls_back(versioned_s3: Any, loader: Loader, models: Models) -> None:
    loader.invoke(loader.put("iris/1/model.joblib", models.logistic), loader.put("iris/2/model.joblib", models.tree))
    assert max(list_versions(loader.model_dir, "iris"), default=None) == 2

    assert loader.invoke(loader.delete("iris/2/model.joblib")) == counts(deleted=1)
    assert max(list_versions(loader.model_dir, "iris"), default=None) == 1
    assert not version_dir(loader.model_dir, "iris", 2).exists()

    assert loader.invoke(loader.delete("iris/1/model.joblib")) == counts(deleted=1)
    assert list_models(loader.model_dir) == {}
    assert not (loader.model_dir / "models" / "iris").exists()


def test_a_duplicate_event_is_a_no_op(versioned_s3: Any, loader: Loader, models: Models) -> None:
    record = loader.put("iris.joblib", models.logistic)
    loader.invoke(record)
    model_file = loader.model_file("iris")
    assert model_file is not None
    before = model_file.stat()

    assert loader.invoke(record) == counts(skipped=1)
    after = model_file.stat()
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)


def test_an_older_put_arriving_late_does_not_replace_the_newer_model(
    versioned_s3: Any, loader: Loader, models: Models
) -> None:
    first = loader.put("iris.joblib", models.logistic)
    second = loader.put("iris.joblib", models.tree)

    assert loader.invoke(second, first) == counts(published=1, skipped=1)

    model_file = loader.model_file("iris")
    assert model_file is not None and model_file.read_bytes() == models.tree


def test_a_late_put_cannot_resurrect_a_deleted_model(versioned_s3: Any, loader: Loader, models: Models) -> None:
    put = loader.put("iris.joblib", models.logistic)
    delete = loader.delete("iris.joblib")

    # The delete overtakes the upload: nothing to remove yet, but it leaves a tombstone.
    assert loader.invoke(delete) == counts(skipped=1)
    assert loader.invoke(put) == counts(skipped=1)
    assert loader.model_file("iris") is None
    assert list_models(loader.model_dir) == {}


def test_a_put_delete_put_sequence_delivered_twice_ends_published(
    versioned_s3: Any, loader: Loader, models: Models
) -> None:
    first = loader.put("iris.joblib", models.logistic)
    delete = loader.delete("iris.joblib")
    again = loader.put("iris.joblib", models.tree)

    # By the time the delete is applied S3 holds the key again: asked, S3 says so, and the delete is skipped.
    assert loader.invoke(first, delete, again) == counts(published=2, skipped=1)
    assert loader.invoke(again, delete, first) == counts(skipped=3)
    model_file = loader.model_file("iris")
    assert model_file is not None and model_file.read_bytes() == models.tree


def test_deleting_a_noncurrent_object_version_keeps_the_model(
    versioned_s3: Any, loader: Loader, models: Models
) -> None:
    old = loader.put("iris.joblib", models.logistic)
    current = loader.put("iris.joblib", models.tree)
    loader.invoke(old, current)

    removal = loader.delete("iris.joblib", version_id=old["s3"]["object"]["versionId"])
    assert removal["eventName"] == "ObjectRemoved:Delete"

    assert loader.invoke(removal) == counts(skipped=1)
    model_file = loader.model_file("iris")
    assert model_file is not None and model_file.read_bytes() == models.tree


def test_deleting_the_published_object_version_removes_the_model(
    versioned_s3: Any, loader: Loader, models: Models
) -> None:
    record = loader.put("iris.joblib", models.logistic)
    loader.invoke(record)

    removal = loader.delete("iris.joblib", version_id=record["s3"]["object"]["versionId"])

    assert loader.invoke(removal) == counts(deleted=1)
    assert list_models(loader.model_dir) == {}


@pytest.mark.parametrize("versioning", ["Enabled", "off"])
def test_events_without_a_sequencer_are_checked_against_s3(loader: Loader, models: Models, versioning: str) -> None:
    """S3-compatible emulators send no sequencer: a stale upload or a delete of a re-created key is skipped."""
    if versioning == "Enabled":
        loader.s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": versioning})
    stale = loader.put("iris.joblib", models.logistic, sequencer=False)
    current = loader.put("iris.joblib", models.tree, sequencer=False)

    assert loader.invoke(stale, current) == counts(published=1, skipped=1)
    delete = loader.delete("iris.joblib", sequencer=False)
    recreated = loader.put("iris.joblib", models.logistic, sequencer=False)
    assert loader.invoke(delete) == counts(skipped=1)
    assert loader.invoke(recreated) == counts(published=1)

    loader.s3.delete_object(Bucket=BUCKET, Key="iris.joblib")
    assert loader.invoke(delete) == counts(deleted=1)
    assert loader.model_file("iris") is None


@pytest.mark.parametrize(
    ("prefix", "key", "raw_key", "where"),
    [
        ("", "iris/2/model.joblib", "iris%2F2%2Fmodel.joblib", ("iris", 2)),
        ("", "iris/2/model.joblib", "iris/2/model.joblib", ("iris", 2)),
        ("my models/é/", "my models/é/iris.joblib", "my+models/%C3%A9/iris.joblib", ("iris", 1)),
        (
            "my models/é/",
            "my models/é/iris/4/model.joblib",
            "my+models%2F%C3%A9%2Firis%2F4%2Fmodel.joblib",
            ("iris", 4),
        ),
    ],
)
def test_url_encoded_keys_are_decoded_before_parsing(
    loader: Loader,
    models: Models,
    monkeypatch: pytest.MonkeyPatch,
    prefix: str,
    key: str,
    raw_key: str,
    where: tuple[str, int],
) -> None:
    monkeypatch.setenv("MODEL_PREFIX", prefix)
    record = loader.put(key, models.logistic)
    record["s3"]["object"]["key"] = raw_key

    assert loader.invoke(record) == counts(published=1)
    assert loader.files_in(*where) == ["metadata.json", "model.joblib", "model.onnx"]
    metadata = read_metadata(version_dir(loader.model_dir, *where))
    assert metadata is not None and metadata.source_key == key


@pytest.mark.parametrize(
    ("raw_key", "decoded"),
    [
        ("my+model.joblib", "my model.joblib"),
        ("mod%C3%A8le.joblib", "modèle.joblib"),
        ("%E6%A8%A1%E5%9E%8B%2F1%2Fmodel.joblib", "模型/1/model.joblib"),
        ("..%2F..%2Fetc%2Fcron.d%2F1%2Fmodel.joblib", "../../etc/cron.d/1/model.joblib"),
        ("%2Fabsolute.joblib", "/absolute.joblib"),
        ("iris%2F..%2F..%2F1%2Fmodel.joblib", "iris/../../1/model.joblib"),
        ("iris.exe", "iris.exe"),
        ("iris%00.joblib", "iris\x00.joblib"),
    ],
)
def test_keys_that_name_no_model_are_rejected_logged_and_never_written(
    loader: Loader,
    capfd: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
    raw_key: str,
    decoded: str,
) -> None:
    record = s3_record("ObjectCreated:Put", raw_key, etag="abc", size=10, sequencer="01", encoded=True)

    assert loader.invoke(record) == counts(rejected=1)

    rejected = [entry for entry in caplog.records if entry.getMessage() == "record rejected"]
    assert [getattr(entry, "key", None) for entry in rejected] == [decoded]
    assert '"ModelRejected"' in capfd.readouterr().out
    assert list(loader.model_dir.iterdir()) == [], "not even bookkeeping is written for a rejected key"


def test_a_corrupt_upload_is_not_published_and_the_previous_model_keeps_serving(
    versioned_s3: Any,
    loader: Loader,
    models: Models,
    capfd: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    loader.invoke(loader.put("iris.joblib", models.logistic))

    assert loader.invoke(loader.put("iris.joblib", b"\x80\x04 this is not a pickle")) == counts(failed=1)

    model_file = loader.model_file("iris")
    assert model_file is not None and model_file.read_bytes() == models.logistic
    assert type(load_model(model_file)).__name__ == "LogisticRegression"
    metadata = read_metadata(model_file.parent)
    assert metadata is not None and metadata.sha256 == sha256(models.logistic)
    # The refusal is recorded beside the model that keeps serving, for the API to show.
    assert loader.files_in("iris") == ["metadata.json", "model.joblib", "model.onnx", "verdict.json"]
    verdict = read_verdict(model_file.parent)
    assert verdict is not None and verdict.source_key == "iris.joblib" and "ModelInvalid" in verdict.reason
    assert '"ModelFailed"' in capfd.readouterr().out
    assert any("ModelInvalid" in str(getattr(entry, "reason", "")) for entry in caplog.records)


def test_a_pickle_without_predict_is_refused(loader: Loader, models: Models, caplog: pytest.LogCaptureFixture) -> None:
    assert loader.invoke(loader.put("weights.joblib", models.no_predict)) == counts(failed=1)

    assert loader.model_file("weights") is None
    assert any("has no predict method" in str(getattr(entry, "reason", "")) for entry in caplog.records)


def test_skops_with_untrusted_types_is_refused(
    loader: Loader, models: Models, caplog: pytest.LogCaptureFixture
) -> None:
    assert loader.invoke(loader.put("handmade.skops", models.untrusted_skops)) == counts(failed=1)

    assert loader.model_file("handmade") is None
    assert any("untrusted" in str(getattr(entry, "reason", "")) for entry in caplog.records)


def test_a_sha256_metadata_mismatch_is_refused(loader: Loader, models: Models) -> None:
    wrong = hashlib.sha256(models.tree).hexdigest()

    assert loader.invoke(loader.put("iris.joblib", models.logistic, Metadata={"sha256": wrong})) == counts(failed=1)
    assert loader.model_file("iris") is None


def test_a_matching_sha256_metadata_is_verified_and_recorded(loader: Loader, models: Models) -> None:
    declared = sha256(models.logistic).upper()

    assert loader.invoke(loader.put("iris.joblib", models.logistic, Metadata={"sha256": declared})) == counts(
        published=1
    )
    metadata = read_metadata(version_dir(loader.model_dir, "iris", 1))
    assert metadata is not None and metadata.sha256_verified_against == "sha256 metadata"


def test_an_s3_sha256_checksum_is_verified_and_recorded(loader: Loader, models: Models) -> None:
    record = loader.put("iris.joblib", models.logistic, ChecksumAlgorithm="SHA256")

    assert loader.invoke(record) == counts(published=1)
    metadata = read_metadata(version_dir(loader.model_dir, "iris", 1))
    assert metadata is not None and metadata.sha256_verified_against == "ChecksumSHA256"


def test_a_base64_sha256_in_metadata_is_accepted(loader: Loader, models: Models) -> None:
    digest = base64.b64encode(hashlib.sha256(models.logistic).digest()).decode()

    assert loader.invoke(loader.put("iris.joblib", models.logistic, Metadata={"sha256": digest})) == counts(published=1)


def test_one_bad_record_does_not_stop_the_others(loader: Loader, models: Models) -> None:
    event_records = [
        loader.put("iris.joblib", models.logistic),
        s3_record("ObjectCreated:Put", "../escape.joblib", etag="abc", size=3, sequencer="01"),
        loader.put("broken.joblib", models.logistic[: len(models.logistic) // 2]),
        {"eventName": "ObjectCreated:Put"},
        loader.put("tree/2/model.joblib", models.tree),
    ]

    assert loader.invoke(*event_records) == counts(published=2, rejected=2, failed=1)
    assert list_models(loader.model_dir) == {"iris": [1], "tree": [2]}


def test_a_deployment_accepting_only_skops_rejects_pickles(
    loader: Loader, models: Models, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ALLOWED_MODEL_FORMATS", "skops")

    assert loader.invoke(loader.put("iris.joblib", models.logistic)) == counts(rejected=1)
    assert loader.invoke(loader.put("iris.skops", models.logistic_skops)) == counts(published=1)
    assert loader.files_in("iris") == ["metadata.json", "model.onnx", "model.skops"]


def test_two_keys_for_one_version_the_last_published_wins_and_deletes_only_their_own(
    loader: Loader, models: Models
) -> None:
    loader.invoke(loader.put("iris.joblib", models.logistic))

    assert loader.invoke(loader.put("iris.skops", models.logistic_skops)) == counts(published=1)
    assert loader.files_in("iris") == ["metadata.json", "model.onnx", "model.skops"]

    assert loader.invoke(loader.delete("iris.joblib")) == counts(skipped=1)
    assert loader.files_in("iris") == ["metadata.json", "model.onnx", "model.skops"]

    assert loader.invoke(loader.delete("iris.skops")) == counts(deleted=1)
    assert list_models(loader.model_dir) == {}


def test_events_wrapped_in_sqs_messages_are_applied(loader: Loader, models: Models) -> None:
    body = json.dumps(s3_event(loader.put("iris.joblib", models.logistic)))
    sqs_event = {"Records": [{"eventSource": "aws:sqs", "messageId": "1", "body": body}]}
    from lambdas.loader import handler

    assert handler.lambda_handler(sqs_event, loader_context())["published"] == 1


def test_notifications_from_moto_s3_through_sqs_are_applied(loader: Loader, models: Models) -> None:
    """The local stack's path: moto S3 notifies an SQS queue; its messages carry no sequencer or version id."""
    from lambdas.loader import handler

    sqs = boto3.client("sqs", region_name="us-east-1")
    queue_url = sqs.create_queue(QueueName="model-events")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    loader.s3.put_bucket_notification_configuration(
        Bucket=BUCKET,
        NotificationConfiguration={
            "QueueConfigurations": [{"QueueArn": queue_arn, "Events": ["s3:ObjectCreated:*", "s3:ObjectRemoved:*"]}]
        },
    )

    def deliver() -> dict[str, int]:
        totals = counts()
        for _ in range(10):
            messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", [])
            if not messages:
                break
            for message in messages:
                for name, value in handler.lambda_handler(json.loads(message["Body"]), loader_context()).items():
                    totals[name] += value
                sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
        return totals

    loader.s3.put_object(Bucket=BUCKET, Key="iris/2/model.joblib", Body=models.logistic)
    loader.s3.put_object(Bucket=BUCKET, Key="tree.joblib", Body=models.tree)
    assert deliver() == counts(published=2)
    assert list_models(loader.model_dir) == {"iris": [2], "tree": [1]}

    loader.s3.delete_object(Bucket=BUCKET, Key="iris/2/model.joblib")
    assert deliver() == counts(deleted=1)
    assert list_models(loader.model_dir) == {"tree": [1]}


def test_other_event_types_and_test_events_change_nothing(loader: Loader, models: Models) -> None:
    restore = loader.put("iris.joblib", models.logistic)
    restore["eventName"] = "ObjectRestore:Completed"
    from lambdas.loader import handler

    assert loader.invoke(restore) == counts(skipped=1)
    test_event = {"Service": "Amazon S3", "Event": "s3:TestEvent", "Bucket": BUCKET}
    assert handler.lambda_handler(test_event, loader_context()) == counts()
    assert list_models(loader.model_dir) == {}


@pytest.mark.parametrize(
    ("left", "right", "order"),
    [
        ("0055AED6DCD90281E5", "0055AED6DCD90281E6", -1),
        ("0055AED6DCD90281E5", "0055aed6dcd90281e5", 0),
        ("0A", "0A00", 0),
        ("00FF", "01", -1),
        ("10", "0F", 1),
        ("0055AED6DCD90281E5", "0055AED6DCD90281", 1),
    ],
)
def test_sequencers_compare_by_right_padding_with_zeros(left: str, right: str, order: int) -> None:
    assert compare_sequencers(left, right) == order
    assert compare_sequencers(right, left) == -order


def test_loader_bookkeeping_lives_under_state(versioned_s3: Any, loader: Loader, models: Models) -> None:
    loader.invoke(loader.put("iris.joblib", models.logistic))

    state_files = list((loader.model_dir / "state").rglob("*.json"))
    assert len(state_files) == 1
    assert json.loads(state_files[0].read_text())["key"] == "iris.joblib"
    assert sorted(p.name for p in loader.model_dir.iterdir()) == ["models", "state"]


def test_an_event_naming_another_bucket_is_refused_when_the_loader_knows_its_own(
    s3: Any, loader: Loader, models: Models, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MODEL_BUCKET", BUCKET)
    s3.create_bucket(Bucket="elsewhere")
    s3.put_object(Bucket="elsewhere", Key="iris.joblib", Body=models.logistic)
    forged = s3_record("ObjectCreated:Put", "iris.joblib", bucket="elsewhere", sequencer=loader.next_sequencer())

    assert loader.invoke(forged) == counts(rejected=1)
    assert loader.files_in("iris") == []
    assert loader.invoke(loader.put("iris.joblib", models.logistic)) == counts(published=1)


def test_a_removal_event_for_a_key_s3_still_holds_deletes_nothing(
    versioned_s3: Any, loader: Loader, models: Models
) -> None:
    created = loader.put("iris.joblib", models.logistic)
    loader.invoke(created)
    forged = s3_record("ObjectRemoved:Delete", "iris.joblib", sequencer=loader.next_sequencer())
    one_version = s3_record(
        "ObjectRemoved:Delete",
        "iris.joblib",
        version_id=created["s3"]["object"]["versionId"],
        sequencer=loader.next_sequencer(),
    )

    assert loader.invoke(forged, one_version) == counts(skipped=2)
    model_file = loader.model_file("iris")
    assert model_file is not None and model_file.read_bytes() == models.logistic
    assert loader.invoke(loader.delete("iris.joblib")) == counts(deleted=1), "a real delete still removes it"


def test_an_upload_over_max_model_bytes_is_refused_before_it_is_read(
    versioned_s3: Any, loader: Loader, models: Models, monkeypatch: pytest.MonkeyPatch
) -> None:
    loader.invoke(loader.put("iris.joblib", models.logistic))
    monkeypatch.setenv("MAX_MODEL_BYTES", str(len(models.tree) - 1))
    from lambdas.loader import handler

    handler.settings.cache_clear()

    assert loader.invoke(loader.put("iris.joblib", models.tree)) == counts(failed=1)
    model_file = loader.model_file("iris")
    assert model_file is not None and model_file.read_bytes() == models.logistic, "the previous model keeps serving"
    verdict = read_verdict(version_dir(loader.model_dir, "iris", 1))
    assert verdict is not None and "MAX_MODEL_BYTES" in verdict.reason and "max_model_bytes" in verdict.reason
    assert verdict.sha256 is None, "nothing of it was read"
