"""Render a Terraform module's inputs and outputs as Markdown tables between markers in its README.

    python scripts/tf_docs.py            # rewrite the tables of every module README
    python scripts/tf_docs.py --check    # exit 1 when a README is out of date (what the tests run)

variables.tf and outputs.tf are read with a small parser that relies on `terraform fmt` layout: blocks start at
column 0 and their arguments at two spaces. That is enough for descriptions, types and defaults.
"""

from __future__ import annotations

import argparse
import re
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MODULES = (".", "modules/network", "modules/storage", "modules/image", "modules/compute", "modules/batch")
BEGIN = "<!-- BEGIN_TF_DOCS -->"
END = "<!-- END_TF_DOCS -->"

_BLOCK = re.compile(r'^(variable|output) "([^"]+)" \{\n(.*?)^\}', re.S | re.M)
_ARGUMENT = re.compile(r"^  ([a-z_]+)\s*=\s*(.*)$")
_NESTED_BLOCK = re.compile(r"^  [a-z_]+ \{$")


@dataclass(frozen=True)
class Variable:
    name: str
    description: str
    type: str
    default: str | None  # HCL text of the default; None when the variable is required


@dataclass(frozen=True)
class Output:
    name: str
    description: str


def _arguments(body: str) -> dict[str, str]:
    """Top-level arguments of a block body, each with its (possibly multi-line) expression text."""
    arguments: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in body.splitlines():
        match = _ARGUMENT.match(line)
        if match:
            current = arguments.setdefault(match.group(1), [])
            current.append(match.group(2))
        elif _NESTED_BLOCK.match(line) or line == "  }":
            current = None
        elif current is not None and line.startswith("  "):
            current.append(line.strip())
    return {name: " ".join(parts).strip() for name, parts in arguments.items()}


def _string(expression: str) -> str:
    if not (expression.startswith('"') and expression.endswith('"')):
        raise ValueError(f"expected a quoted string, got {expression!r}")
    return expression[1:-1].replace('\\"', '"')


def _tidy(expression: str) -> str:
    """One line: `object({ a = x, b = y })` from the formatted multi-line text."""
    text = re.sub(r"\s+", " ", expression)
    text = re.sub(r"\{ (?=\w)", "{ ", text)
    return re.sub(r"(\)|\]|\"|\w) (?=\w+ +=)", r"\1, ", text)


def parse_variables(text: str) -> list[Variable]:
    variables = []
    for kind, name, body in _BLOCK.findall(text):
        if kind != "variable":
            continue
        arguments = _arguments(body)
        default = arguments.get("default")
        variables.append(
            Variable(
                name=name,
                description=_string(arguments.get("description", '""')),
                type=_tidy(arguments.get("type", "any")),
                default=None if default is None else _tidy(default),
            )
        )
    return variables


def parse_outputs(text: str) -> list[Output]:
    return [
        Output(name=name, description=_string(_arguments(body).get("description", '""')))
        for kind, name, body in _BLOCK.findall(text)
        if kind == "output"
    ]


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def render(module_dir: Path) -> str:
    """The tables; their headings sit one level below the README's own sections (#### in the project README)."""
    variables = parse_variables((module_dir / "variables.tf").read_text())
    outputs = parse_outputs((module_dir / "outputs.tf").read_text())
    heading = "####" if module_dir.resolve() == ROOT else "##"
    lines = [f"{heading} Inputs", "", "| Name | Description | Type | Default | Required |"]
    lines.append("| --- | --- | --- | --- | :---: |")
    for var in variables:
        default = "n/a" if var.default is None else f"`{_cell(var.default)}`"
        required = "yes" if var.default is None else "no"
        lines.append(f"| `{var.name}` | {_cell(var.description)} | `{_cell(var.type)}` | {default} | {required} |")
    lines += ["", f"{heading} Outputs", "", "| Name | Description |", "| --- | --- |"]
    lines += [f"| `{out.name}` | {_cell(out.description)} |" for out in outputs]
    return "\n".join(lines)


def updated_readme(readme: str, tables: str) -> str:
    start, end = readme.find(BEGIN), readme.find(END)
    if start < 0 or end < start:
        raise ValueError(f"README has no {BEGIN} ... {END} section")
    return f"{readme[: start + len(BEGIN)]}\n{tables}\n{readme[end:]}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="report stale READMEs instead of rewriting them")
    args = parser.parse_args(argv)
    stale = []
    for module in MODULES:
        readme_path = ROOT / module / "README.md"
        readme = readme_path.read_text()
        expected = updated_readme(readme, render(ROOT / module))
        if expected != readme:
            stale.append(module)
            if not args.check:
                readme_path.write_text(expected)
    if args.check and stale:
        print(f"out of date: {', '.join(stale)} (run python scripts/tf_docs.py)", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
