"""Removing the model a key published, and the version directory once it holds no model."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from lambdas.common.metadata import METADATA_FILE, MetadataError, read_metadata
from lambdas.common.repository import ModelKey, find_model_file, version_dir
from lambdas.common.verdicts import VERDICT_FILE, read_verdict
from lambdas.loader import fast_path
from lambdas.loader.events import ObjectRef
from lambdas.loader.files import fsync_dir, remove_temp_files


@dataclass(frozen=True)
class Removed:
    removed: bool
    reason: str


def remove_model(obj: ObjectRef, target: ModelKey, model_dir: Path, *, only_version_id: str | None = None) -> Removed:
    """Remove the model that ``obj`` published as ``target``; drop the version directory once it holds no model.

    ``only_version_id``: for the permanent delete of one S3 object version, remove the model only when it was
    published from that version.
    """
    directory = version_dir(model_dir, target.name, target.version)
    if not directory.is_dir():
        return Removed(False, "version is not published")
    remove_temp_files(directory)
    try:
        metadata = read_metadata(directory)
    except MetadataError:  # a record this loader cannot read: the removed key's own file name is what counts
        metadata = None
    if metadata is not None:
        if (metadata.source_bucket, metadata.source_key) != (obj.bucket, obj.key):
            return Removed(False, f"version is published from another key: {metadata.source_key!r}")
        if only_version_id and metadata.version_id not in (None, only_version_id):
            return Removed(False, "the removed S3 version is not the published one")
    model_file = directory / target.filename
    existed = model_file.is_file()
    verdict = read_verdict(directory)
    refused = verdict is not None and verdict.source_key == obj.key
    if refused:
        (directory / VERDICT_FILE).unlink(missing_ok=True)
    fast_path.remove(directory)
    model_file.unlink(missing_ok=True)
    if find_model_file(directory) is None:
        (directory / METADATA_FILE).unlink(missing_ok=True)
        _remove_empty_dir(directory)
        _remove_empty_dir(directory.parent)
        fsync_dir(directory.parent.parent if not directory.parent.exists() else directory.parent)
    else:
        fsync_dir(directory)
    if refused and not existed:
        return Removed(True, "removed the loader's verdict on the refused upload")
    return Removed(existed, "removed" if existed else "model file was already gone")


def _remove_empty_dir(directory: Path) -> None:
    try:
        directory.rmdir()
    except FileNotFoundError:
        return
    except OSError:
        # Not empty: a file the loader does not own, or another version of the model.
        return
