"""The packages of lambdas/ import in one direction: no cycle, and the loader uses shared code, never the inference
function's."""

from __future__ import annotations

import ast
from pathlib import Path

from tests.support.paths import REPO as ROOT


def _module(path: Path) -> str:
    return ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")


def _imports() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    modules = {_module(path) for path in (ROOT / "lambdas").rglob("*.py")}
    for path in (ROOT / "lambdas").rglob("*.py"):
        found: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("lambdas"):
                for alias in node.names:
                    name = f"{node.module}.{alias.name}"
                    found.add(name if name in modules else node.module)
            elif isinstance(node, ast.Import):
                found |= {alias.name for alias in node.names if alias.name in modules}
        graph[_module(path)] = found - {_module(path)}
    return graph


def test_the_loader_imports_nothing_of_the_inference_function() -> None:
    arrows = [(m, i) for m, found in _imports().items() if m.startswith("lambdas.loader") for i in found]
    assert [arrow for arrow in arrows if arrow[1].startswith("lambdas.inference")] == []


def test_shared_code_imports_neither_function() -> None:
    arrows = [(m, i) for m, found in _imports().items() if m.startswith("lambdas.common") for i in found]
    assert [arrow for arrow in arrows if arrow[1].startswith(("lambdas.loader", "lambdas.inference"))] == []


def test_the_modules_of_lambdas_import_one_another_without_a_cycle() -> None:
    graph = _imports()
    done: set[str] = set()

    def visit(module: str, path: tuple[str, ...]) -> None:
        if module in path:
            raise AssertionError(" -> ".join((*path[path.index(module) :], module)))
        if module in done:
            return
        for imported in graph.get(module, ()):
            if imported in graph:
                visit(imported, (*path, module))
        done.add(module)

    for module in graph:
        visit(module, ())
