"""The image module's build: with image_uri unset, apply logs in to ECR with the provider's token, builds docker/ and
pushes the image, unless the registry already holds its tag.

The provider is mocked, and `curl` and the builder are stand-in scripts on PATH that record how they were called, so
the real local-exec command runs without Docker or AWS. No `aws` CLI is on PATH: the build must not need one.
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
from pathlib import Path

import pytest

from tests.support.paths import REPO as ROOT

REPOSITORY_URL = "123456789012.dkr.ecr.us-east-1.amazonaws.com/test"

pytestmark = pytest.mark.skipif(shutil.which("terraform") is None, reason="terraform is not on PATH")

BUILD_TEST = """
mock_provider "aws" {
  source = "./tests/mocks"
}

run "apply_builds_and_pushes_the_image" {
  module {
    source = "./modules/image"
  }

  variables {
    name          = "test"
    image_builder = "fake-builder --root /tmp/store"
    architecture  = "arm64"
  }

  assert {
    condition     = output.image_uri == "REPOSITORY_URL:${local.image_tag}"
    error_message = "the module must give the pushed image"
  }
}
""".replace("REPOSITORY_URL", REPOSITORY_URL)


def _script(path: Path, body: str) -> None:
    path.write_text(f"#!/usr/bin/env bash\nset -eu\n{body}\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)


def _apply(tmp_path: Path, registry_status: int) -> list[str]:
    """Run the build test in a copy of the repository; return the stand-ins' calls, in order."""
    workdir = tmp_path / "repo"
    workdir.mkdir()
    for name in ("modules", "lambdas", "docker"):
        shutil.copytree(ROOT / name, workdir / name, ignore=shutil.ignore_patterns(".terraform*", "__pycache__"))
    for source in ROOT.glob("*.tf"):
        shutil.copy2(source, workdir / source.name)
    shutil.copy2(ROOT / ".terraform.lock.hcl", workdir / ".terraform.lock.hcl")
    (workdir / "tests").mkdir()
    shutil.copytree(ROOT / "tests" / "mocks", workdir / "tests" / "mocks")
    (workdir / "tests" / "build.tftest.hcl").write_text(BUILD_TEST)

    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    calls = tmp_path / "calls.log"
    calls.touch()
    # curl -w '%{http_code}' prints the status of the manifest HEAD request.
    _script(bin_dir / "curl", f'echo "curl $*" >> {calls}\nprintf {registry_status}')
    _script(
        bin_dir / "fake-builder", f'echo "builder $*" >> {calls}\nif [ "$3" = login ]; then cat > {tmp_path}/pw; fi'
    )
    path = ":".join(p for p in os.environ["PATH"].split(":") if not (Path(p) / "aws").exists())
    env = {
        **os.environ,
        "PATH": f"{bin_dir}:{path}",
        "TF_CLI_CONFIG_FILE": str(ROOT / "terraformrc"),
        "TF_IN_AUTOMATION": "1",
        "CHECKPOINT_DISABLE": "1",
    }

    def terraform(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["terraform", *args, "-no-color"],
            cwd=workdir,
            env=env,
            capture_output=True,
            text=True,
            timeout=240,
            check=False,
        )

    init = terraform("init", "-backend=false")
    assert init.returncode == 0, init.stdout + init.stderr
    result = terraform("test")
    assert result.returncode == 0, result.stdout + result.stderr
    return calls.read_text().splitlines()


def test_apply_logs_in_with_the_providers_token_builds_from_the_repository_root_and_pushes(tmp_path: Path) -> None:
    lines = _apply(tmp_path, 404)

    registry = REPOSITORY_URL.split("/")[0]
    assert lines[0].startswith("curl ") and f"https://{registry}/v2/test/manifests/" in lines[0]
    assert lines[1] == f"builder --root /tmp/store login --username AWS --password-stdin {registry}"
    assert (tmp_path / "pw").read_text() == "fake-password"
    build = lines[2].split()
    tag = build[build.index("-t") + 1]
    assert tag.startswith(f"{REPOSITORY_URL}:") and len(tag.rsplit(":", 1)[1]) == 24
    assert lines[0].endswith(f"/manifests/{tag.rsplit(':', 1)[1]}")
    assert build[:3] == ["builder", "--root", "/tmp/store"] and build[3] == "build"
    assert build[build.index("--platform") + 1] == "linux/arm64"
    assert "--provenance=false" not in build  # not docker: that flag is docker's own
    assert build[build.index("-f") + 1] == f"{tmp_path}/repo/docker/Dockerfile"
    assert build[-1] == str(tmp_path / "repo")
    assert lines[3] == f"builder --root /tmp/store push {tag}"
    assert len(lines) == 4, lines
    assert not any("fake-password" in line for line in lines)  # on stdin only, never in a command's arguments


def test_a_tag_the_registry_already_holds_is_reused_not_built_again(tmp_path: Path) -> None:
    lines = _apply(tmp_path, 200)

    assert len(lines) == 1 and lines[0].startswith("curl "), lines
