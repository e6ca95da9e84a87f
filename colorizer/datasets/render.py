"""SVG -> pixels at any size: the vector is rendered at the target size, never a bitmap scaled up.

cairosvg (libcairo) renders; ``rsvg-convert`` (librsvg) is the fallback for the rare file cairosvg
rejects, when it is installed. The drawing is fit into a square canvas, aspect kept, centered, on
a transparent background, so the source's own paper stays distinguishable from its white paint.
"""

from __future__ import annotations

import shutil
import subprocess

import cv2
import numpy as np

from colorizer.datasets.base import U8
from colorizer.imaging import over_white


class RenderError(ValueError):
    """Neither renderer could draw the file."""


def _png_to_rgba(png: bytes) -> U8:
    img = cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_UNCHANGED)
    if img is None:
        raise RenderError("renderer returned no image")
    if img.ndim == 2:
        img = cv2.cvtColor(img, cv2.COLOR_GRAY2BGRA)
    elif img.shape[2] == 3:
        img = cv2.cvtColor(img, cv2.COLOR_BGR2BGRA)
    if img.dtype != np.uint8:
        img = (img // 257).astype(np.uint8)
    return np.ascontiguousarray(cv2.cvtColor(img, cv2.COLOR_BGRA2RGBA))


def _cairo(svg: bytes, *, width: int | None = None, height: int | None = None) -> U8:
    import cairosvg

    png = cairosvg.svg2png(bytestring=svg, output_width=width, output_height=height)
    if not isinstance(png, bytes):
        raise RenderError("cairosvg returned nothing")
    return _png_to_rgba(png)


def _rsvg(svg: bytes, *, width: int | None = None, height: int | None = None) -> U8:
    exe = shutil.which("rsvg-convert")
    if exe is None:
        raise RenderError("rsvg-convert is not installed")
    cmd = [exe, "--format=png", "--keep-aspect-ratio"]
    if width:
        cmd.append(f"--width={width}")
    if height:
        cmd.append(f"--height={height}")
    done = subprocess.run(cmd, input=svg, capture_output=True, timeout=60, check=False)
    if done.returncode != 0:
        raise RenderError(f"rsvg-convert: {done.stderr.decode(errors='replace').strip()[:200]}")
    return _png_to_rgba(done.stdout)


def _fit(svg: bytes, size: int, render: object) -> U8:
    draw = render  # type: ignore[assignment]
    img: U8 = draw(svg, width=size)  # type: ignore[operator]
    if img.shape[0] > size:  # taller than wide: fit the height instead
        img = draw(svg, height=size)  # type: ignore[operator]
    return img


def render_svg(svg: bytes, size: int) -> U8:
    """RGBA uint8 [size, size, 4]: the SVG fit into the square, centered, transparent around it."""
    if size < 16:
        raise ValueError(f"render size must be >= 16, got {size}")
    errors: list[str] = []
    img: U8 | None = None
    for render in (_cairo, _rsvg):
        try:
            img = _fit(svg, size, render)
            break
        except Exception as exc:  # a renderer's own exception types vary (XML, cairo, OSError)
            errors.append(f"{render.__name__.strip('_')}: {exc}")
    if img is None:
        raise RenderError("; ".join(errors))
    h, w = img.shape[:2]
    h, w = min(h, size), min(w, size)
    out = np.zeros((size, size, 4), np.uint8)
    y, x = (size - h) // 2, (size - w) // 2
    out[y : y + h, x : x + w] = img[:h, :w]
    return out


def on_white(rgba: U8) -> U8:
    """RGBA -> RGB composited over white paper (how a viewer shows a transparent drawing)."""
    return over_white(rgba)


def ink_of(rgba: U8) -> U8:
    """Line art rendered on transparency -> gray sketch, 0 ink on 255 paper.

    The ink is the coverage (alpha) times the darkness of the stroke color, so a dark-brown
    outline (#45413c) counts as nearly full ink and antialiased edges stay antialiased.
    """
    a = rgba[..., 3].astype(np.float32) * np.float32(1.0 / 255.0)
    luma = cv2.cvtColor(np.ascontiguousarray(rgba[..., :3]), cv2.COLOR_RGB2GRAY).astype(np.float32)
    # Lines of any dark color count as full ink: darkness is stretched so luma <= 96 is black.
    dark = np.clip((255.0 - luma) / (255.0 - 96.0), 0.0, 1.0)
    ink = a * dark
    return np.ascontiguousarray(np.clip(255.0 * (1.0 - ink) + 0.5, 0, 255).astype(np.uint8))
