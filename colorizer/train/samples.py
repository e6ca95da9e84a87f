"""Pictures of a run: sample grids (sketch | hints | output | truth) and the loss curve."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import torch

from colorizer import contract
from colorizer.encoding import U8, decode_color


def hint_view(sketch: np.ndarray, hint: np.ndarray) -> U8:
    """The hints painted over a faded sketch: each hinted 1/4 cell as a 4x4 block of its color."""
    s = contract.HINT_SCALE
    gray = (sketch[0] * 255.0 * 0.35 + 255.0 * 0.65).astype(np.uint8)
    view = np.repeat(gray[:, :, None], 3, axis=2)
    mask = np.kron(hint[3], np.ones((s, s), np.float32)) > 0.5
    colors = decode_color(np.kron(hint[:3], np.ones((1, s, s), np.float32)))
    view[mask] = colors[mask]
    return view


def sample_grid(sketch: torch.Tensor, hint: torch.Tensor, output: torch.Tensor, truth: torch.Tensor) -> U8:
    """RGB uint8 grid, one row per example: sketch | hints | output | truth (4 px white gutters)."""
    rows = []
    for sk, hi, out, tr in zip(sketch.cpu().numpy(), hint.cpu().numpy(), output.detach().cpu().numpy(),
                               truth.cpu().numpy(), strict=True):
        sk_rgb = np.repeat(decode_color(np.repeat(sk, 3, axis=0))[:, :, :1], 3, axis=2)
        tiles = [sk_rgb, hint_view(sk, hi), decode_color(out), decode_color(tr)]
        gutter = np.full((sk.shape[1], 4, 3), 255, np.uint8)
        row = [tiles[0]]
        for t in tiles[1:]:
            row += [gutter, t]
        rows.append(np.concatenate(row, axis=1))
        rows.append(np.full((4, rows[-1].shape[1], 3), 255, np.uint8))
    return np.concatenate(rows[:-1], axis=0)


def write_png(path: str | Path, rgb: U8) -> None:
    """Write an RGB uint8 image as PNG (creating the folder)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(path), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)):
        raise OSError(f"could not write {path}")


def plot_losses(log_path: str | Path, png_path: str | Path) -> None:
    """Loss and fidelity curves from a run's JSONL log, as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    train: dict[str, list[tuple[int, float]]] = {}
    val: dict[str, list[tuple[int, float]]] = {}
    for line in Path(log_path).read_text().splitlines():
        rec = json.loads(line)
        target = val if rec.get("kind") == "val" else train
        for k, v in rec.items():
            if k not in ("kind", "step", "time") and isinstance(v, int | float):
                target.setdefault(k, []).append((rec["step"], float(v)))
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(12, 4.5))
    for name, pts in sorted(train.items()):
        if pts and name != "lr":
            ax1.plot(*zip(*pts, strict=True), label=name)
    ax1.set(xlabel="step", ylabel="loss", yscale="log", title="training losses")
    ax1.legend(fontsize=8)
    for name, pts in sorted(val.items()):
        ax2.plot(*zip(*pts, strict=True), marker=".", label=name)
    ax2.set(xlabel="step", ylabel="mean abs error (0..255)", title="validation fidelity")
    ax2.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(png_path, dpi=100)
    plt.close(fig)
