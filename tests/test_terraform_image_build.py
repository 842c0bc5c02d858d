"""The compute module's image build: with image_uri unset, apply logs in to ECR, builds docker/ and pushes the image.

The provider is mocked and `aws` and the builder are stand-in scripts on PATH that record how they were called, so
the real local-exec command runs without Docker or AWS.
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
REPOSITORY_URL = "123456789012.dkr.ecr.us-east-1.amazonaws.com/test"

pytestmark = pytest.mark.skipif(shutil.which("terraform") is None, reason="terraform is not on PATH")

BUILD_TEST = """
mock_provider "aws" {
  source = "./tests/mocks"
}

run "apply_builds_and_pushes_the_image" {
  module {
    source = "./modules/compute"
  }

  variables {
    name                 = "test"
    subnet_ids           = ["subnet-0aaaaaaaaaaaaaaaa"]
    security_group_ids   = ["sg-0123456789abcdef0"]
    bucket_name          = "test-models"
    bucket_arn           = "arn:aws:s3:::test-models"
    efs_file_system_arn  = "arn:aws:elasticfilesystem:us-east-1:123456789012:file-system/fs-12345678"
    efs_access_point_arn = "arn:aws:elasticfilesystem:us-east-1:123456789012:access-point/fsap-12345678"
    image_builder        = "fake-builder --root /tmp/store"
    architecture         = "arm64"
  }

  assert {
    condition     = aws_lambda_function.loader.image_uri == "REPOSITORY_URL:${local.image_tag}"
    error_message = "the functions must run the pushed image"
  }

  assert {
    condition     = aws_lambda_function.inference.image_uri == aws_lambda_function.loader.image_uri
    error_message = "both functions must run the same image"
  }
}
""".replace("REPOSITORY_URL", REPOSITORY_URL)


def _script(path: Path, body: str) -> None:
    path.write_text(f"#!/usr/bin/env bash\nset -eu\n{body}\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)


def test_apply_logs_in_builds_from_the_repository_root_and_pushes(tmp_path: Path) -> None:
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
    _script(bin_dir / "aws", f'echo "aws $*" >> {calls}\necho fake-password')
    _script(
        bin_dir / "fake-builder", f'echo "builder $*" >> {calls}\nif [ "$3" = login ]; then cat > {tmp_path}/pw; fi'
    )
    env = {
        **os.environ,
        "PATH": f"{bin_dir}:{os.environ['PATH']}",
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
    lines = calls.read_text().splitlines()
    registry = REPOSITORY_URL.split("/")[0]
    # The two sides of the login pipe start together, so they may log in either order.
    assert sorted(lines[:2]) == [
        "aws ecr get-login-password --region us-east-1",
        f"builder --root /tmp/store login --username AWS --password-stdin {registry}",
    ]
    assert (tmp_path / "pw").read_text().strip() == "fake-password"
    build = lines[2].split()
    tag = build[build.index("-t") + 1]
    assert tag.startswith(f"{REPOSITORY_URL}:") and len(tag.rsplit(":", 1)[1]) == 24
    assert build[:3] == ["builder", "--root", "/tmp/store"] and build[3] == "build"
    assert build[build.index("--platform") + 1] == "linux/arm64"
    assert "--provenance=false" in build
    assert build[build.index("-f") + 1] == f"{workdir}/docker/Dockerfile"
    assert build[-1] == str(workdir)
    assert lines[3] == f"builder --root /tmp/store push {tag}"
    assert len(lines) == 4, lines
