"""scripts/k8s_cluster.py's tools: the control-plane tarball is checked before it is unpacked.

The cluster itself is exercised by the e2e tier (tests_k8s, `make e2e-k8s`).
"""

from __future__ import annotations

import hashlib
import io
import sys
import tarfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))

import k8s_cluster  # noqa: E402


def _tarball(folder: Path) -> str:
    """A real .tar.xz named like the shared one, holding three small 'binaries'; returns its SHA-256."""
    path = folder / k8s_cluster.CONTROL_PLANE_TARBALL
    with tarfile.open(path, "w:xz") as tar:
        for name in k8s_cluster.CONTROL_PLANE_BINARIES:
            data = f"#!/bin/sh\necho {name}\n".encode()
            info = tarfile.TarInfo(f"bin/{name}")
            info.size, info.mode = len(data), 0o644
            tar.addfile(info, io.BytesIO(data))
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_missing_binaries_say_where_to_put_them(tmp_path: Path) -> None:
    with pytest.raises(k8s_cluster.ClusterError, match="COLORIZER_K8S_DIR"):
        k8s_cluster.binaries_dir({"COLORIZER_K8S_DIR": str(tmp_path)})


def test_a_tarball_that_does_not_match_its_checksum_is_refused(tmp_path: Path) -> None:
    source, cache = tmp_path / "k8s", tmp_path / "cache"
    source.mkdir()
    digest = _tarball(source)
    assert k8s_cluster.binaries_dir({"COLORIZER_K8S_DIR": str(source)}) == source
    (source / "SHA256SUMS").write_text(f"{'0' * 64}  {k8s_cluster.CONTROL_PLANE_TARBALL}\n")
    with pytest.raises(k8s_cluster.ClusterError, match="does not match SHA256SUMS"):
        k8s_cluster.unpack_control_plane(source, cache)
    assert not any(cache.rglob("kube-apiserver"))

    (source / "SHA256SUMS").write_text(f"{digest}  {k8s_cluster.CONTROL_PLANE_TARBALL}\n")
    folder = k8s_cluster.unpack_control_plane(source, cache)
    for name in k8s_cluster.CONTROL_PLANE_BINARIES:
        assert (folder / name).read_text() == f"#!/bin/sh\necho {name}\n"
        assert (folder / name).stat().st_mode & 0o111
    # Unpacked once: a second call reuses the folder without reading the tarball again.
    (source / k8s_cluster.CONTROL_PLANE_TARBALL).write_bytes(b"not a tarball")
    assert k8s_cluster.unpack_control_plane(source, cache) == folder


def test_without_a_checksum_file_nothing_is_unpacked(tmp_path: Path) -> None:
    _tarball(tmp_path)
    with pytest.raises(k8s_cluster.ClusterError, match="SHA256SUMS is missing"):
        k8s_cluster.unpack_control_plane(tmp_path, tmp_path / "cache")
