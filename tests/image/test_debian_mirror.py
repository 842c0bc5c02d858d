"""The image test builds its Debian base from the mirror the host's apt uses, read from either sources format."""

import os
import subprocess
from pathlib import Path

import pytest

from tests.support.paths import REPO

SCRIPT = REPO / "scripts" / "image" / "debian-mirror.sh"


def mirror(apt_etc: Path, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {key: value for key, value in os.environ.items() if key != "DEBIAN_MIRROR"}
    return subprocess.run(
        [str(SCRIPT)],
        env={**environment, "APT_ETC": str(apt_etc), **env},
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


@pytest.fixture
def apt_etc(tmp_path: Path) -> Path:
    (tmp_path / "sources.list.d").mkdir()
    return tmp_path


def test_deb822_sources_give_the_main_suite_mirror_not_security(apt_etc: Path) -> None:
    (apt_etc / "sources.list.d" / "debian.sources").write_text(
        "Types: deb\n"
        "# http://snapshot.debian.org/archive/debian-security/20250520T000000Z\n"
        "URIs: http://security.example.org/debian-security\n"
        "Suites: bookworm-security\n"
        "Components: main\n"
        "\n"
        "Types: deb-src\n"
        "URIs: http://source-only.example.org/debian\n"
        "Suites: bookworm\n"
        "\n"
        "Types: deb\n"
        "URIs: http://mirror.example.org/debian/\n"
        "Suites: bookworm bookworm-updates\n"
        "Components: main\n"
    )
    result = mirror(apt_etc)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "http://mirror.example.org/debian"


def test_a_disabled_stanza_is_skipped(apt_etc: Path) -> None:
    (apt_etc / "sources.list.d" / "debian.sources").write_text(
        "Enabled: no\nTypes: deb\nURIs: http://old.example.org/debian\nSuites: bookworm\n\n"
        "Types: deb\nURIs: http://mirror.example.org/debian\nSuites: bookworm\n"
    )
    assert mirror(apt_etc).stdout.strip() == "http://mirror.example.org/debian"


def test_one_line_sources_list_with_options(apt_etc: Path) -> None:
    (apt_etc / "sources.list").write_text(
        "deb http://security.example.org/debian-security bookworm-security main\n"
        "# deb http://commented.example.org/debian bookworm main\n"
        "deb [arch=amd64 signed-by=/etc/apt/k.gpg] http://ftp.example.org/debian bookworm main\n"
    )
    assert mirror(apt_etc).stdout.strip() == "http://ftp.example.org/debian"


def test_no_mirror_fails_with_a_hint(apt_etc: Path) -> None:
    result = mirror(apt_etc)
    assert result.returncode != 0
    assert "DEBIAN_MIRROR" in result.stderr


def test_debian_mirror_variable_overrides_the_host(apt_etc: Path) -> None:
    assert mirror(apt_etc, DEBIAN_MIRROR="http://local.example/debian").stdout.strip() == "http://local.example/debian"
