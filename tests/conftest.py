"""Suite-wide: a closing line that states both counts, for a reader of CI logs (pytest leaves out zeros)."""

from __future__ import annotations

import pytest


def pytest_unconfigure(config: pytest.Config) -> None:
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    if reporter is None or config.option.collectonly:
        return
    passed = len(reporter.stats.get("passed", []))
    failed = len(reporter.stats.get("failed", [])) + len(reporter.stats.get("error", []))
    reporter.write_line(f"{passed} passed, {failed} failed")
