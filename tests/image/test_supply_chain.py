"""What the image is built from: hash-locked wheels of the pinned versions on a base pinned by digest, and registry
credentials that never appear on a command line."""

from __future__ import annotations

import os
import re
import stat
import subprocess
from pathlib import Path

from local_stack.stack import REPO_ROOT

PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==(\S+?)(?:\s*\\)?$")


def pins(path: Path) -> dict[str, str]:
    found = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        match = PIN.match(line.strip())
        if match:
            found[re.sub(r"[-_.]+", "-", match[1]).lower()] = match[2]
    return found


def test_the_lock_holds_exactly_the_pinned_versions_each_with_hashes() -> None:
    pinned = pins(REPO_ROOT / "docker" / "requirements.in")
    lock = (REPO_ROOT / "docker" / "requirements.txt").read_text(encoding="utf-8")

    assert pins(REPO_ROOT / "docker" / "requirements.txt") == pinned, "run `make lock` after changing a pin"
    entries = re.split(r"\n(?=[A-Za-z0-9])", lock.split("\n", 2)[2].strip())
    assert len(entries) == len(pinned)
    for entry in entries:
        assert re.search(r"--hash=sha256:[0-9a-f]{64}", entry), f"no hash for {entry.splitlines()[0]}"
    assert "--find-links" not in lock and "--index-url" not in lock


def test_the_image_installs_only_hash_checked_wheels_on_a_base_pinned_by_digest() -> None:
    dockerfile = (REPO_ROOT / "docker" / "Dockerfile").read_text(encoding="utf-8")

    assert re.search(r"^ARG BASE_IMAGE=\S+@sha256:[0-9a-f]{64}$", dockerfile, re.M)
    install = dockerfile[dockerfile.index("pip install") : dockerfile.index("-r /tmp/requirements.txt")]
    for option in ("--require-hashes", "--only-binary :all:", "--no-deps"):
        assert option in install
    assert "!docker/requirements.txt" in (REPO_ROOT / ".dockerignore").read_text(encoding="utf-8")


def test_registry_credentials_reach_the_builder_and_curl_on_stdin(tmp_path: Path) -> None:
    """build.sh with a curl and a builder that record their arguments and what they read."""
    record = tmp_path / "record"
    for tool in ("curl", "fakebuilder"):
        script = tmp_path / tool
        script.write_text(f'#!/bin/sh\necho "{tool} $*" >> {record}\ncat >> {record}\necho 404\n', encoding="utf-8")
        script.chmod(script.stat().st_mode | stat.S_IEXEC)
    env = {
        **os.environ,
        "PATH": f"{tmp_path}{os.pathsep}{os.environ['PATH']}",
        "BUILDER": "fakebuilder",
        "OPTIONS": "",
        "IMAGE": "123456789012.dkr.ecr.us-east-1.amazonaws.com/repo:abc",
        "PLATFORM": "linux/amd64",
        "SOURCE_DIR": str(REPO_ROOT),
        "REGISTRY": "123456789012.dkr.ecr.us-east-1.amazonaws.com",
        "USERNAME": "AWS",
        "PASSWORD": "the-registry-password",
    }
    script = REPO_ROOT / "modules" / "image" / "build.sh"

    subprocess.run(["sh", str(script)], env=env, check=True, capture_output=True, timeout=30, stdin=subprocess.DEVNULL)

    calls = record.read_text(encoding="utf-8")
    command_lines = [line for line in calls.splitlines() if line.startswith(("curl ", "fakebuilder "))]
    assert any(line.startswith("fakebuilder push") for line in command_lines)
    assert all("the-registry-password" not in line for line in command_lines)
    assert calls.count("the-registry-password") == 2  # read by curl and by the login, from stdin
