"""What a loaded model costs in memory, for the model cache's bound.

A file's size says little: a RandomForest saved with ``joblib.dump(..., compress=9)`` takes ten times its file in
memory once loaded. Two measures are taken across each load, and the cache counts the larger (never less than the
file):

- the process's resident memory growth across the load (``/proc/self/statm``), which sees native allocations such
  as an onnxruntime session's, but misses memory a load reuses after an earlier model was freed. A load that
  imports code (the first model of an estimator family in a fresh process) does not count it: the modules stay
  when the model goes, and a cold function would otherwise charge its first model for scikit-learn itself;
- the bytes the loaded object graph holds: every numpy array's buffer and every Python object's own size, walked
  from the model (scikit-learn's Cython trees through their pickled state), which sees reused memory too.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import numpy as np

_MAX_OBJECTS = 500_000  # a walk this large has long passed any cache bound; stop counting there
_PAGE_BYTES = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096
_SCALARS = (str, bytes, int, float, bool, complex, type(None))
_STATM = Path("/proc/self/statm")


def resident_bytes() -> int | None:
    """The process's resident set size, or None where /proc is not there."""
    try:
        return int(_STATM.read_bytes().split()[1]) * _PAGE_BYTES
    except (OSError, ValueError, IndexError):
        return None


class LoadGrowth:
    """Resident memory growth across a load, started before it; zero when the load imported modules."""

    def __init__(self) -> None:
        self._modules = len(sys.modules)
        self._before = resident_bytes()

    def bytes(self) -> int:
        after = resident_bytes()
        if after is None or self._before is None or len(sys.modules) != self._modules:
            return 0
        return after - self._before


def object_bytes(root: Any) -> int:
    """Bytes held by ``root`` and everything it references: array buffers once each, objects at their own size."""
    total = 0
    alive: list[Any] = []  # states made during the walk stay referenced, so their ids are not reused
    seen: set[int] = set()
    buffers: set[int] = set()
    pending = [root]
    while pending and len(seen) < _MAX_OBJECTS:
        item = pending.pop()
        if id(item) in seen or isinstance(item, type):
            continue
        seen.add(id(item))
        if isinstance(item, np.ndarray):
            owner = item
            while isinstance(owner.base, np.ndarray):
                owner = owner.base
            if id(owner) not in buffers:
                buffers.add(id(owner))
                total += owner.nbytes
            if item.dtype.kind == "O":
                pending.extend(item.ravel().tolist())
            continue
        try:
            total += sys.getsizeof(item)
        except TypeError:
            continue
        if isinstance(item, _SCALARS):
            continue
        if isinstance(item, dict):
            pending.extend(item.keys())
            pending.extend(item.values())
        elif isinstance(item, list | tuple | set | frozenset):
            pending.extend(item)
        else:
            state = _attributes(item)
            alive.extend(state)
            pending.extend(state)
    return total


def _attributes(item: Any) -> list[Any]:
    """An object's state: its ``__dict__``, or for extension types (scikit-learn's Tree) their pickled state."""
    attributes = getattr(item, "__dict__", None)
    if isinstance(attributes, dict):
        return [attributes]
    if type(item).__module__.split(".")[0] in ("builtins", "numpy"):
        return []
    try:
        state = item.__getstate__()
    except Exception:  # not every extension type can describe its state
        return []
    return [state] if isinstance(state, dict | list | tuple) else []
