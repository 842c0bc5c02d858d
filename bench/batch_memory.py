"""A batch worker's peak memory on one chunk, in a process of its own: ``python -m bench.batch_memory MODEL_DIR NAME
ROWS FORMAT [CHUNK_BYTES]`` prints ``{"peak": bytes, "decoded": bytes, "file": bytes, "ranges": n}`` as JSON.

The file sits in an in-memory store that answers ranged reads as S3 does, so the worker reads only its own bytes.
After one warm chunk (imports, the model, the allocator's pools), the kernel's peak-RSS mark is reset before each
measured chunk (``/proc/self/clear_refs``), and the peak is what the mark rose above the memory in use just before:
everything the chunk's read, decode, answer and write took at once, native libraries' buffers included. ``decoded``
is the chunk's rows as pandas holds them (``memory_usage(deep=True)``).
"""

from __future__ import annotations

import gc
import io
import json
import sys
from pathlib import Path
from typing import Any

from bench.environment import function_settings, overlay

CHUNK_BYTES = 4 * 1024 * 1024
ROWS_PER_GROUP = 100_000
MEASURED_CHUNKS = 3


class MemoryStore:
    """The S3 calls a batch step makes, answered from a dict: ranged GETs, PUTs, the multipart upload."""

    def __init__(self, objects: dict[str, bytes]) -> None:
        self.objects = objects

    def head_object(self, **kwargs: Any) -> dict[str, Any]:
        return {"ContentLength": len(self.objects[kwargs["Key"]]), "Metadata": {}, "VersionId": "1"}

    def get_object(self, **kwargs: Any) -> dict[str, Any]:
        data = self.objects[kwargs["Key"]]
        if "Range" in kwargs:
            first, last = (int(part) for part in kwargs["Range"].removeprefix("bytes=").split("-"))
            data = data[first : last + 1]
        return {"Body": io.BytesIO(data)}

    def put_object(self, **kwargs: Any) -> dict[str, Any]:
        self.objects[kwargs["Key"]] = bytes(kwargs["Body"])
        return {}

    def delete_objects(self, **kwargs: Any) -> dict[str, Any]:
        for item in kwargs["Delete"]["Objects"]:
            self.objects.pop(item["Key"], None)
        return {}

    def create_multipart_upload(self, **kwargs: Any) -> dict[str, Any]:
        raise NotImplementedError("the memory figure measures the score step alone")

    upload_part = complete_multipart_upload = abort_multipart_upload = create_multipart_upload


def group_rows(rows: int) -> int:
    """Rows per Parquet row group: 100,000, or fewer in a small file, so that it has ranges to measure."""
    return min(ROWS_PER_GROUP, max(1, rows // 8))


def rss(field: str) -> int:
    with Path("/proc/self/status").open() as status:
        for line in status:
            if line.startswith(field):
                return int(line.split()[1]) * 1024
    raise RuntimeError(f"no {field} in /proc/self/status")


def reset_peak() -> None:
    with Path("/proc/self/clear_refs").open("w") as clear:
        clear.write("5")


def rows_file(name: str, rows: int, fmt: str) -> bytes:
    import numpy as np
    import pandas as pd
    from sklearn.datasets import load_iris

    from bench import tabular

    if name == tabular.NAME:
        frame = tabular.training_frame(rows)
    else:
        columns = ["sepal_length", "sepal_width", "petal_length", "petal_width"]
        frame = pd.DataFrame(np.resize(load_iris().data, (rows, 4)), columns=columns)
    out = io.BytesIO()
    if fmt == "csv":
        frame.to_csv(out, index=False)
    else:
        frame.to_parquet(out, index=False, row_group_size=group_rows(rows))
    return out.getvalue()


def decoded_size(store: MemoryStore, key: str, fmt: str, job: Any, index: int, rows_per_group: int) -> int:
    import pandas as pd

    data = store.objects[key]
    if fmt == "csv":
        start, end = job.ranges[index]
        head = data[: job.data_start]
        frame = pd.read_csv(io.BytesIO(head + data[start:end].rsplit(b"\n", 1)[0] + b"\n"))
    else:
        first, stop = job.ranges[index]
        frame = pd.read_parquet(io.BytesIO(data)).iloc[first * rows_per_group : stop * rows_per_group]
    return int(frame.memory_usage(deep=True, index=False).sum())


def main(argv: list[str]) -> None:
    model_dir, name, rows, fmt = Path(argv[0]), argv[1], int(argv[2]), argv[3]
    chunk_bytes = int(argv[4]) if len(argv) > 4 else CHUNK_BYTES
    from lambdas.batch.steps import plan, score
    from lambdas.common.settings import Settings
    from lambdas.inference.cache import ModelCache

    env = function_settings(model_dir, True)
    with overlay(env):
        settings = Settings.from_env(env)
        cache = ModelCache(settings.model_dir, max_bytes=1 << 30, refresh_seconds=60.0, serve_onnx=True)
        key = f"input/{name}/rows.{fmt}"
        store = MemoryStore({key: rows_file(name, rows, fmt)})

        def models(model: str, version: int | None) -> Any:
            return cache.get(model, version)

        job = plan(store, "data", key, models, chunk_bytes=chunk_bytes)
        score(store, job, 0, models)  # warm
        measured = sorted({1, len(job.ranges) // 2, len(job.ranges) - 2} & set(range(1, len(job.ranges) - 1)))
        peaks = []
        for index in measured[:MEASURED_CHUNKS]:
            gc.collect()
            reset_peak()
            before = rss("VmRSS")
            score(store, job, index, models)
            peaks.append((rss("VmHWM") - before, index))
        if not peaks:
            raise SystemExit(f"{len(job.ranges)} ranges: too few to measure one after a warm one")
        peak, index = max(peaks)
        decoded = decoded_size(store, key, fmt, job, index, group_rows(rows))
    print(json.dumps({"peak": peak, "decoded": decoded, "file": len(store.objects[key]), "ranges": len(job.ranges)}))


if __name__ == "__main__":
    main(sys.argv[1:])
