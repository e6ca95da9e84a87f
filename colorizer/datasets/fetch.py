"""Fetching packages from the registries the machines reach (npm, Debian), into a cache folder.

Each fetch runs once: the unpacked folder is reused on the next run. Only the registries'
ordinary clients are used (``npm pack``/``npm install``, ``apt-get download`` + ``dpkg-deb -x``),
so nothing is downloaded from anywhere else.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

from colorizer.datasets import logger


class FetchError(RuntimeError):
    """A package could not be fetched (no client, no registry, no such version)."""


def _run(cmd: list[str], cwd: Path) -> str:
    exe = shutil.which(cmd[0])
    if exe is None:
        raise FetchError(f"{cmd[0]} is not installed (needed to fetch {cmd[-1]})")
    logger.info("fetch: %s", " ".join(cmd))
    done = subprocess.run(
        [exe, *cmd[1:]], cwd=cwd, capture_output=True, text=True, timeout=900, check=False
    )
    if done.returncode != 0:
        raise FetchError(f"{' '.join(cmd)} failed: {(done.stderr or done.stdout).strip()[-500:]}")
    return done.stdout


def _done(folder: Path) -> bool:
    return (folder / ".fetched").is_file()


def _mark(folder: Path) -> Path:
    (folder / ".fetched").write_text("ok\n")
    return folder


def npm_pack(spec: str, cache: Path) -> Path:
    """``npm pack SPEC`` (a tarball of the package alone) unpacked; returns its ``package/`` folder."""
    folder = cache / ("npm-" + spec.replace("/", "_").replace("@", "", 1))
    if _done(folder):
        return folder / "package"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    out = _run(["npm", "pack", spec, "--silent"], folder).strip().splitlines()
    tgz = folder / out[-1].strip()
    with tarfile.open(tgz) as tar:
        tar.extractall(folder, filter="data")
    tgz.unlink()
    return _mark(folder) / "package"


def npm_install(spec: str, cache: Path) -> Path:
    """``npm install SPEC`` with its dependencies into a private prefix; returns the prefix."""
    folder = cache / ("npm-install-" + spec.replace("/", "_").replace("@", "", 1))
    if _done(folder):
        return folder
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    (folder / "package.json").write_text('{"private": true}\n')
    _run(["npm", "install", "--no-audit", "--no-fund", "--silent", spec], folder)
    return _mark(folder)


def debian_package(name: str, version: str, cache: Path) -> Path:
    """``apt-get download NAME=VERSION`` unpacked with ``dpkg-deb -x``; returns the unpacked root.

    Nothing is installed on the machine. When apt's lists do not know the package yet, one
    ``apt-get update`` is tried first (it needs root, as on these machines).
    """
    folder = cache / f"deb-{name}-{version.replace(':', '_')}"
    if _done(folder):
        return folder / "root"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    try:
        _run(["apt-get", "download", f"{name}={version}"], folder)
    except FetchError:
        _run(["apt-get", "update", "-qq"], folder)
        _run(["apt-get", "download", f"{name}={version}"], folder)
    debs = sorted(folder.glob("*.deb"))
    if not debs:
        raise FetchError(f"apt-get download {name}={version} wrote no .deb")
    _run(["dpkg-deb", "-x", debs[0].name, "root"], folder)
    debs[0].unlink()
    return _mark(folder) / "root"


def pypi_download(spec: str, cache: Path) -> Path:
    """``pip download --no-deps SPEC`` (the file alone, nothing installed); returns the wheel or sdist."""
    folder = cache / ("pypi-" + spec.replace("==", "-").replace("/", "_"))
    if _done(folder):
        return next(p for p in sorted(folder.iterdir()) if p.name != ".fetched")
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    _run([sys.executable, "-m", "pip", "download", "--no-deps", "--disable-pip-version-check", "-q",
          "-d", ".", spec], folder)
    files = sorted(folder.iterdir())
    if not files:
        raise FetchError(f"pip download {spec} wrote no file")
    _mark(folder)
    return files[0]
def debian_closure(name: str, cache: Path) -> Path:
    """Debian package ``name`` and every dependency this machine lacks, unpacked into one root.

    apt itself resolves the dependencies (``apt-get -s install``: a simulation that installs
    nothing), ``apt-get download`` fetches them and ``dpkg-deb -x`` unpacks each into
    ``cache/deb-closure-NAME/root``; the caller runs the programs from there with its own
    ``LD_LIBRARY_PATH``. The versions are the registry's current ones, so a security update never
    leaves a pinned version missing from the mirror. Fetched once; reused afterwards.
    """
    folder = cache / f"deb-closure-{name}"
    if _done(folder):
        return folder / "root"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    plan = _run(["apt-get", "-s", "install", "--no-install-recommends", name], folder)
    if f"Inst {name} " not in plan:
        _run(["apt-get", "update", "-qq"], folder)
        plan = _run(["apt-get", "-s", "install", "--no-install-recommends", name], folder)
    # Simulation lines read "Inst NAME [OLD] (VERSION SUITE [ARCH])".
    specs = [
        f"{parts[1]}={line.split('(', 1)[1].split()[0]}"
        for line in plan.splitlines()
        if (parts := line.split()) and parts[0] == "Inst" and "(" in line
    ]
    if not any(spec.startswith(f"{name}=") for spec in specs):
        raise FetchError(f"apt-get -s install {name} planned no {name} (already installed here?)")
    _run(["apt-get", "download", *specs], folder)
    debs = sorted(folder.glob("*.deb"))
    for deb in debs:
        _run(["dpkg-deb", "-x", deb.name, "root"], folder)
        deb.unlink()
    logger.info("fetch: %s and %d dependencies unpacked into %s", name, len(debs) - 1, folder / "root")
    return _mark(folder) / "root"
