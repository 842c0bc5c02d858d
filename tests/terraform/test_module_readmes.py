"""Each module README's inputs and outputs tables match its variables.tf and outputs.tf."""

from __future__ import annotations

import importlib.util
import re
import sys
from types import ModuleType

import pytest

from tests.support.paths import REPO as ROOT


def _load_tf_docs() -> ModuleType:
    spec = importlib.util.spec_from_file_location("tf_docs", ROOT / "scripts" / "tf_docs.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["tf_docs"] = module
    spec.loader.exec_module(module)
    return module


tf_docs = _load_tf_docs()


@pytest.mark.parametrize("module", tf_docs.MODULES)
def test_readme_tables_match_the_module_code(module: str) -> None:
    readme = (ROOT / module / "README.md").read_text()

    expected = tf_docs.updated_readme(readme, tf_docs.render(ROOT / module))

    assert readme == expected, f"{module}/README.md is stale: run python scripts/tf_docs.py"


@pytest.mark.parametrize("module", tf_docs.MODULES)
def test_every_variable_and_output_is_documented(module: str) -> None:
    directory = ROOT / module
    declared_variables = re.findall(r'^variable "([^"]+)"', (directory / "variables.tf").read_text(), re.M)
    declared_outputs = re.findall(r'^output "([^"]+)"', (directory / "outputs.tf").read_text(), re.M)
    readme = (directory / "README.md").read_text()

    for name in declared_variables + declared_outputs:
        assert f"| `{name}` |" in readme, f"{name} missing from {module}/README.md"
    variables = tf_docs.parse_variables((directory / "variables.tf").read_text())
    assert all(variable.description for variable in variables), "every variable needs a description"


def test_parser_reads_multiline_types_defaults_and_required_variables() -> None:
    text = """variable "limits" {
  description = "Rate and \\"burst\\"."
  type = object({
    rate  = optional(number, 100)
    burst = optional(number, 200)
  })
  default  = {}
  nullable = false

  validation {
    condition     = var.limits.rate > 0
    error_message = "rate must be positive."
  }
}

variable "vpc_id" {
  description = "VPC to use."
  type        = string
}
"""

    limits, vpc_id = tf_docs.parse_variables(text)

    assert limits.description == 'Rate and "burst".'
    assert limits.type == "object({ rate = optional(number, 100), burst = optional(number, 200) })"
    assert limits.default == "{}"
    assert vpc_id.default is None


def test_a_stale_table_is_replaced_and_text_around_it_kept() -> None:
    readme = f"# m\n\nusage\n\n{tf_docs.BEGIN}\n| old |\n{tf_docs.END}\nafter\n"

    updated = tf_docs.updated_readme(readme, "| new |")

    assert updated == f"# m\n\nusage\n\n{tf_docs.BEGIN}\n| new |\n{tf_docs.END}\nafter\n"
