"""Open a PSD in a real GIMP 2.10 (batch mode) and report its layers and composite.

GIMP is Debian's own package, fetched with its dependencies by ``apt-get download`` and unpacked
with ``dpkg-deb -x`` into a cache folder (:func:`colorizer.datasets.fetch.debian_closure`);
nothing is installed on the machine. A system GIMP (``gimp-console-2.10`` on PATH) is used as is.

    python scripts/gimp_check.py --fetch                 # fetch once (make gimp)
    python scripts/gimp_check.py page.psd --composite page-gimp.png

Prints one JSON object: the image's size and, top layer first, each layer's name, size, offsets,
mode, visibility, opacity, alpha channel and layer mask, as GIMP's PSD loader read them.
``--composite`` writes the merge of the visible layers (GIMP's own compositing) as an RGBA PNG.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run as a script: the project's packages

from colorizer.datasets.fetch import debian_closure  # noqa: E402

#: Where the unpacked Debian packages go (beside the data stage's fetched packages).
DEFAULT_CACHE = ROOT / "data" / "cache"
#: Plug-ins this check needs; a private plug-in folder with only these makes startup ~2x faster.
PLUG_INS = ("file-psd", "file-png", "script-fu")
#: GIMP's numbers for the layer modes the PSD loader maps Photoshop's blend modes to.
MODES = {28: "normal", 30: "multiply", 0: "normal-legacy", 3: "multiply-legacy"}
_MARK = "LAYERCHECK"

# Script-fu (TinyScheme): load, report every layer, then merge the visible ones and save them.
_SCRIPT = """
(let* ((img (car (gimp-file-load RUN-NONINTERACTIVE "{psd}" "{psd}")))
       (layers (vector->list (cadr (gimp-image-get-layers img)))))
  (gimp-message (string-append "{mark}IMAGE\t" (number->string (car (gimp-image-width img))) "\t"
                               (number->string (car (gimp-image-height img)))))
  (for-each
    (lambda (l)
      (gimp-message
        (string-append "{mark}LAYER\t" (car (gimp-item-get-name l))
                       "\t" (number->string (car (gimp-drawable-width l)))
                       "\t" (number->string (car (gimp-drawable-height l)))
                       "\t" (number->string (car (gimp-drawable-offsets l)))
                       "\t" (number->string (cadr (gimp-drawable-offsets l)))
                       "\t" (number->string (car (gimp-layer-get-mode l)))
                       "\t" (number->string (car (gimp-item-get-visible l)))
                       "\t" (number->string (car (gimp-layer-get-opacity l)))
                       "\t" (number->string (car (gimp-drawable-has-alpha l)))
                       "\t" (number->string (car (gimp-layer-get-mask l))))))
    layers)
  (if (> (string-length "{png}") 0)
    (let ((merged (car (gimp-image-merge-visible-layers img CLIP-TO-IMAGE))))
      (file-png-save2 RUN-NONINTERACTIVE img merged "{png}" "{png}" 0 9 0 0 0 0 0 0 0)))
  (gimp-message "{mark}DONE"))
"""


class GimpError(RuntimeError):
    """GIMP could not be fetched or run, or did not load the file."""


def gimp_root(cache: Path = DEFAULT_CACHE) -> Path | None:
    """The unpacked GIMP's root folder (fetched on first use); None when a system GIMP is on PATH."""
    if shutil.which("gimp-console-2.10"):
        return None
    return debian_closure("gimp", cache)


def _environment(root: Path | None, home: Path) -> tuple[str, dict[str, str]]:
    """The gimp-console executable and the environment that makes it run from ``root``."""
    env = dict(os.environ, GIMP2_DIRECTORY=str(home), LC_ALL="C")
    if root is None:
        return "gimp-console-2.10", env
    lib = root / "usr/lib/x86_64-linux-gnu"
    plug_ins = home / "plugindir" / "plug-ins"
    plug_ins.mkdir(parents=True, exist_ok=True)
    for name in PLUG_INS:
        link = plug_ins / name
        if not link.exists():
            link.symlink_to(root / "usr/lib/gimp/2.0/plug-ins" / name)
    libs = [lib, lib / "blas", lib / "lapack"]
    env.update(
        LD_LIBRARY_PATH=os.pathsep.join([*map(str, libs), env.get("LD_LIBRARY_PATH", "")]),
        GIMP2_DATADIR=str(root / "usr/share/gimp/2.0"),
        GIMP2_PLUGINDIR=str(plug_ins.parent),
        GIMP2_SYSCONFDIR=str(root / "etc/gimp/2.0"),
        BABL_PATH=str(lib / "babl-0.1"),
        GEGL_PATH=str(lib / "gegl-0.4"),
    )
    return str(root / "usr/bin/gimp-console-2.10"), env


def inspect_psd(psd: Path, composite: Path | None = None, *, cache: Path = DEFAULT_CACHE) -> dict:
    """What GIMP reads from ``psd``: ``{"width", "height", "layers": [...]}`` (top layer first)."""
    root = gimp_root(cache)
    for path in (psd, composite):
        if path is not None and any(c in str(path.resolve()) for c in '"\\'):
            raise GimpError(f"{path}: a quote or backslash in the path would break the script")
    script = _SCRIPT.format(
        psd=psd.resolve(), png=composite.resolve() if composite else "", mark=_MARK
    )
    with tempfile.TemporaryDirectory(prefix="gimp-home-") as home:
        # A fresh profile each run: no state shared between runs or users (costs ~1 s of
        # plug-in registration).
        exe, env = _environment(root, Path(home))
        for folder in ("gradients", "brushes", "patterns", "palettes"):
            (Path(home) / folder).mkdir()
        started = time.monotonic()
        done = subprocess.run(
            [exe, "-i", "-d", "-f", "-n", "--batch-interpreter=plug-in-script-fu-eval",
             "-b", script, "-b", "(gimp-quit 0)"],
            capture_output=True, text=True, env=env, timeout=120, check=False,
        )
        seconds = time.monotonic() - started
    out = done.stdout + done.stderr
    lines = [line.split(_MARK, 1)[1] for line in out.splitlines() if _MARK in line]
    if "DONE" not in lines:
        raise GimpError(f"GIMP did not load {psd} (exit {done.returncode}):\n{out[-2000:]}")
    report: dict = {"gimp_seconds": round(seconds, 2), "layers": []}
    for line in lines:
        kind, *fields = line.split("\t")
        if kind == "IMAGE":
            report["width"], report["height"] = int(fields[0]), int(fields[1])
        elif kind == "LAYER":
            name, w, h, x, y, mode, visible, opacity, has_alpha, mask = fields
            report["layers"].append({
                "name": name, "width": int(w), "height": int(h), "left": int(x), "top": int(y),
                "mode": MODES.get(int(mode), mode), "visible": visible == "1",
                "opacity": float(opacity), "has_alpha": has_alpha == "1", "has_mask": int(mask) != -1,
            })
    return report


def main(argv: list[str] | None = None) -> int:
    """Fetch GIMP (``--fetch``) and/or report on a PSD; 0 on success, 1 if GIMP failed."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("psd", type=Path, nargs="?", help="the PSD to open")
    parser.add_argument("--composite", type=Path, help="write GIMP's merge of the visible layers here")
    parser.add_argument("--fetch", action="store_true", help="fetch GIMP into the cache and exit")
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE, help="cache folder (data/cache)")
    args = parser.parse_args(argv)
    try:
        if args.fetch:
            root = gimp_root(args.cache)
            print(f"GIMP: {root or shutil.which('gimp-console-2.10')}")
        if args.psd is not None:
            print(json.dumps(inspect_psd(args.psd, args.composite, cache=args.cache), indent=2))
    except (GimpError, RuntimeError, subprocess.TimeoutExpired) as exc:
        print(f"gimp_check: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
