"""Suite-wide: modules marked slow run first, and a closing line states both counts for a reader of CI logs (pytest
leaves out zeros)."""

from __future__ import annotations

from collections import Counter

import pytest


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Slow modules first: with one module per worker (``make pytest``), the long ones then overlap the many short
    ones instead of starting last and running alone. Workers are handed tests by id, so two tests sharing one would
    run as one: that stops the run."""
    shared = [nodeid for nodeid, count in Counter(item.nodeid for item in items).items() if count > 1]
    if shared:
        raise pytest.UsageError(f"tests share an id, and a parallel run would run one of them: {shared[:3]}")
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)


def pytest_unconfigure(config: pytest.Config) -> None:
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    if reporter is None or config.option.collectonly:
        return
    passed = len(reporter.stats.get("passed", []))
    failed = len(reporter.stats.get("failed", [])) + len(reporter.stats.get("error", []))
    reporter.write_line(f"{passed} passed, {failed} failed")
