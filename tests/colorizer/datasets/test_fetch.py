"""Fetching from the registries with their own clients (real npm, real apt), into a cache."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from colorizer.datasets.fetch import FetchError, debian_package, npm_pack


def test_debian_package_is_downloaded_and_unpacked_not_installed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A small real package (hostname), through a relative cache path as `colorizer data` uses."""
    out = subprocess.run(
        ["apt-cache", "show", "hostname"], capture_output=True, text=True, check=False
    ).stdout
    if "Version:" not in out:
        subprocess.run(["apt-get", "update", "-qq"], capture_output=True, check=False)
        out = subprocess.run(["apt-cache", "show", "hostname"], capture_output=True, text=True).stdout
    version = next(line.split(": ", 1)[1] for line in out.splitlines() if line.startswith("Version:"))
    monkeypatch.chdir(tmp_path)
    root = debian_package("hostname", version, Path("cache"))
    assert (root / "bin" / "hostname").is_file() and not root.is_absolute()
    stamp = (root.parent / ".fetched").stat().st_mtime_ns
    assert debian_package("hostname", version, Path("cache")) == root  # cached: no second fetch
    assert (root.parent / ".fetched").stat().st_mtime_ns == stamp
    assert not list(root.parent.glob("*.deb"))


def test_a_version_the_registry_lacks_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(FetchError, match="no-such-package-xyz"):
        npm_pack("no-such-package-xyz-colorizer@0.0.1", tmp_path)
