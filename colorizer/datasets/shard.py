"""A data shard: prepared pairs at the training size in one file small enough to travel.

A GPU machine is lent for minutes and gets only the working tree (plus a few carried paths of at
most 64 MiB in all), so training there cannot render SVGs or read ``data/real``. A shard holds
pairs already at the training size, each image PNG-compressed (flat colors compress 10-30x, far
better than a compressed array), concatenated into one ``.npz``::

    lines, color      uint8 [total bytes]: the PNG files back to back (gray lines, RGBA colors)
    lines_offsets,    int64 [N + 1]: where each PNG starts (and the last one ends)
    color_offsets
    names, sources    str [N]
    size              int: the square side

Pairs are taken round-robin over the sources (so a small shard still has every source), in a
fixed order, until the next pair would pass ``max_mib``. :class:`colorizer.data.real.RealPairsDataset`
reads a shard wherever it reads a prepared folder.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from colorizer.datasets import logger

_PNG = [cv2.IMWRITE_PNG_COMPRESSION, 9]


def _encode(img: np.ndarray) -> bytes:
    ok, buf = cv2.imencode(".png", img, _PNG)
    if not ok:
        raise ValueError("PNG encoding failed")
    return buf.tobytes()


def resize_rgba(bgra: np.ndarray, size: int, interp: int) -> np.ndarray:
    """Resize with premultiplied alpha: the color under transparent pixels (black, meaningless)
    must not darken the edge of the drawing as plain RGBA averaging would."""
    alpha = bgra[..., 3:4].astype(np.float32) * np.float32(1.0 / 255.0)
    premul = cv2.resize(bgra[..., :3].astype(np.float32) * alpha, (size, size), interpolation=interp)
    a = cv2.resize(alpha[..., 0], (size, size), interpolation=interp)[..., None]
    rgb = np.where(a > 1e-4, premul / np.maximum(a, 1e-4), 0.0)
    out = np.concatenate([rgb, a * 255.0], axis=2)
    return np.clip(out + 0.5, 0, 255).astype(np.uint8)


def write_shard(
    root: Path, out: Path, *, size: int = 256, split: str = "train", max_mib: float = 44.0
) -> dict[str, Any]:
    """Write the shard of ``split`` pairs under ``root`` at ``size`` px to ``out``; returns a summary."""
    per_source: list[list[tuple[Path, str]]] = []
    for manifest in sorted(root.glob("*/manifest.json")):
        pairs = json.loads(manifest.read_text())["pairs"]
        per_source.append([(manifest.parent, p["name"]) for p in pairs if p["split"] == split])
    if not any(per_source):
        raise ValueError(f"no prepared {split} pairs under {root} (run `make data` first)")
    order = [src[i] for i in range(max(map(len, per_source))) for src in per_source if i < len(src)]
    budget = int(max_mib * 2**20)
    lines: list[bytes] = []
    colors: list[bytes] = []
    names: list[str] = []
    sources: list[str] = []
    used = 0
    for folder, name in order:
        gray = cv2.imread(str(folder / "lines" / f"{name}.png"), cv2.IMREAD_GRAYSCALE)
        bgra = cv2.imread(str(folder / "color" / f"{name}.png"), cv2.IMREAD_UNCHANGED)
        if gray is None or bgra is None:
            raise ValueError(f"cannot read pair {name} under {folder}")
        interp = cv2.INTER_AREA if gray.shape[0] >= size else cv2.INTER_CUBIC
        a = _encode(cv2.resize(gray, (size, size), interpolation=interp))
        b = _encode(resize_rgba(bgra, size, interp))
        if used + len(a) + len(b) > budget:
            break
        lines.append(a)
        colors.append(b)
        names.append(name)
        sources.append(folder.name)
        used += len(a) + len(b)

    def pack(parts: list[bytes]) -> tuple[np.ndarray, np.ndarray]:
        offsets = np.cumsum([0] + [len(p) for p in parts]).astype(np.int64)
        return np.frombuffer(b"".join(parts), np.uint8), offsets

    lines_buf, lines_off = pack(lines)
    color_buf, color_off = pack(colors)
    out.parent.mkdir(parents=True, exist_ok=True)
    np.savez(
        out,
        lines=lines_buf,
        lines_offsets=lines_off,
        color=color_buf,
        color_offsets=color_off,
        names=np.array(names),
        sources=np.array(sources),
        size=np.array(size),
    )
    summary = {
        "pairs": len(names),
        "of": len(order),
        "by_source": {s: sources.count(s) for s in sorted(set(sources))},
        "mib": round(out.stat().st_size / 2**20, 2),
        "size": size,
        "split": split,
    }
    logger.info("shard %s: %s", out, summary)
    return summary


class Shard:
    """A shard opened for reading: ``len`` pairs, ``pair(i)`` -> (BGRA colors, gray lines)."""

    def __init__(self, path: str | Path) -> None:
        with np.load(Path(path), allow_pickle=False) as z:
            self._lines, self._lines_off = z["lines"], z["lines_offsets"]
            self._color, self._color_off = z["color"], z["color_offsets"]
            self.names = [str(n) for n in z["names"]]
            self.sources = [str(s) for s in z["sources"]]
            self.size = int(z["size"])

    def __len__(self) -> int:
        return len(self.names)

    def pair(self, i: int) -> tuple[np.ndarray, np.ndarray]:
        """(BGRA uint8 [S,S,4], gray uint8 [S,S]) of pair ``i``."""
        c = self._color[self._color_off[i] : self._color_off[i + 1]]
        g = self._lines[self._lines_off[i] : self._lines_off[i + 1]]
        bgra = cv2.imdecode(c, cv2.IMREAD_UNCHANGED)
        gray = cv2.imdecode(g, cv2.IMREAD_GRAYSCALE)
        if bgra is None or gray is None:
            raise ValueError(f"shard pair {i} does not decode")
        return bgra, gray
