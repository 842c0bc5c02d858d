"""Functions in lambdas/ stay small enough to read at once: none is longer than 60 lines."""

from __future__ import annotations

import ast

from tests.support.paths import REPO as ROOT

MAX_LINES = 60


def test_no_function_in_lambdas_is_longer_than_sixty_lines() -> None:
    long = []
    for path in sorted((ROOT / "lambdas").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.end_lineno is not None:
                start = min([node.lineno, *(d.lineno for d in node.decorator_list)])
                if node.end_lineno - start + 1 > MAX_LINES:
                    long.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.name} ({node.end_lineno - start + 1})")
    assert long == []
