"""The README's route table and openapi.yaml describe the same API."""

import re

import yaml

from tests.support.paths import REPO as ROOT

ROUTE = re.compile(r"`(GET|POST) (/[^`]*)`")
OPTIONAL_VERSION = "[/versions/{v}]"


def _readme_routes() -> set[tuple[str, str]]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("## Inference API", 1)[1].split("\n## ", 1)[0]
    table = [line for line in section.splitlines() if line.startswith("| `")]
    routes = set()
    for line in table:
        for method, path in ROUTE.findall(line):
            path = path.replace("{v}", "{version}")
            optional = OPTIONAL_VERSION.replace("{v}", "{version}")
            if optional in path:
                routes.add((method, path.replace(optional, "")))
                routes.add((method, path.replace(optional, "/versions/{version}")))
            else:
                routes.add((method, path))
    return routes


def _openapi_routes() -> set[tuple[str, str]]:
    document = yaml.safe_load((ROOT / "openapi.yaml").read_text(encoding="utf-8"))
    return {
        (method.upper(), path)
        for path, operations in document["paths"].items()
        for method in operations
        if method in ("get", "post", "put", "delete", "patch")
    }


def test_every_documented_route_is_in_the_openapi_document_and_back() -> None:
    assert _readme_routes() == _openapi_routes()
