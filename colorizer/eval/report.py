"""Writing the evaluation: a JSON report, Markdown tables and a contact-sheet PNG."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from colorizer import contract
from colorizer.encoding import U8
from colorizer.eval.cases import PER_REGION, Count
from colorizer.eval.runner import SheetRow

#: Metrics shown in the Markdown tables: key, title, format, and which direction is better.
TABLES: tuple[tuple[str, str, str, str], ...] = (
    ("fidelity_median", "Q1 hint fidelity: median CIEDE2000, hint vs its region's mean", "{:.1f}", "lower"),
    ("bleeding", "Q2 bleeding: share of eligible pixels that took a neighbour's hint", "{:.1%}", "lower"),
    (
        "leak_share",
        "Q2 leak share: of the pixels painted in a hint's color, the share across a line",
        "{:.1%}",
        "lower",
    ),
    ("flat_std", "Q2 flat-region spread: pooled std of Lab inside flat regions", "{:.1f}", "lower"),
    ("psnr", "Q3 PSNR against the truth, dB", "{:.2f}", "higher"),
    ("ssim", "Q3 SSIM against the truth", "{:.3f}", "higher"),
    ("unhinted_de", "Q4 unhinted regions: mean CIEDE2000 to the truth", "{:.1f}", "lower"),
    (
        "figure_de",
        "Figure error: mean CIEDE2000 to the truth over the drawing's non-line pixels",
        "{:.1f}",
        "lower",
    ),
    (
        "paper_de",
        "Paper stays paper: mean CIEDE2000 from white over the transparent background",
        "{:.1f}",
        "lower",
    ),
)


def count_title(count: Count) -> str:
    """A hint count as a column title: ``16 hints``, or ``1/region`` for :data:`PER_REGION`."""
    return "1/region" if count == PER_REGION else f"{count} hints"


def _json_default(value: object) -> object:
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"not JSON serializable: {type(value).__name__}")


def write_json(path: Path, results: dict[str, Any], config: dict[str, Any]) -> None:
    """``{"config": ..., "results": {set: {system: {hints: {metric: value}}}}}``, keys as strings."""
    payload = {
        "config": config,
        "results": {
            s: {sys: {str(n): v for n, v in per.items()} for sys, per in systems.items()}
            for s, systems in results.items()
        },
    }
    path.write_text(json.dumps(payload, indent=2, default=_json_default) + "\n")


def markdown_tables(results: dict[str, Any], counts: Sequence[Count]) -> str:
    """One table per case set and metric: systems as rows, hint counts as columns. A metric with
    nothing to measure anywhere in a set (paper error without transparent paper) has no table."""
    lines: list[str] = []
    for set_name, systems in results.items():
        lines.append(f"### {set_name}\n")
        for key, title, fmt, better in TABLES:
            values = {
                system: [per[n][key] if n in per else per.get(str(n), {}).get(key) for n in counts]
                for system, per in systems.items()
            }
            if all(v is None for row in values.values() for v in row):
                continue
            lines.append(f"**{title}** ({better} is better)\n")
            lines.append("| system | " + " | ".join(count_title(n) for n in counts) + " |")
            lines.append("|---|" + "---:|" * len(counts))
            for system, row in values.items():
                cells = ["–" if v is None else fmt.format(v) for v in row]
                lines.append(f"| {system} | " + " | ".join(cells) + " |")
            lines.append("")
    return "\n".join(lines)


def hint_overlay(case_sketch: U8, hint: np.ndarray) -> U8:
    """The sketch, faded, with every hint cell drawn as a dot of its color ringed in black."""
    rgb = np.repeat((case_sketch // 2 + 128)[:, :, None], 3, axis=2).astype(np.uint8)
    s = contract.HINT_SCALE
    radius = max(2, case_sketch.shape[0] // 64)
    for r, c in np.argwhere(hint[3] > 0.5):
        color = tuple(int(v) for v in np.clip(hint[:3, r, c] * 255.0 + 0.5, 0, 255))
        center = (int(c * s + s // 2), int(r * s + s // 2))
        cv2.circle(rgb, center, radius + 1, (0, 0, 0), -1)
        cv2.circle(rgb, center, radius, color, -1)
    return rgb


def _label(width: int, text: str, height: int = 22) -> U8:
    img = np.full((height, width, 3), 255, np.uint8)
    scale = 0.4
    while scale > 0.25 and cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, 1)[0][0] > width - 4:
        scale -= 0.05
    cv2.putText(img, text, (2, height - 7), cv2.FONT_HERSHEY_SIMPLEX, scale, (0, 0, 0), 1, cv2.LINE_AA)
    return img


def contact_sheet(
    rows: Sequence[SheetRow],
    systems: Sequence[str],
    pad: int = 4,
    *,
    titles: Sequence[str] | None = None,
    sketch_title: str = "sketch",
) -> U8:
    """RGB image: a header, then per row sketch | hints | each system | truth.

    ``titles`` replaces the systems' names in the header (``result``, ``flat fill``);
    ``sketch_title`` the first column's (``lines`` for a source's own line art). The truth is the
    case's RGB truth (a real drawing's colors composited over white).
    """
    if not rows:
        raise ValueError("no rows for the contact sheet")
    if titles is not None and len(titles) != len(systems):
        raise ValueError(f"{len(titles)} titles for {len(systems)} systems")
    w = rows[0].case.sketch.shape[1]
    count = rows[0].count
    shown = "1/region" if count == PER_REGION else str(count)
    titles = [sketch_title, f"hints ({shown})", *(titles if titles is not None else systems), "truth"]
    header = [_label(w, t) for t in titles]
    lines = []
    for row in rows:
        cells = [
            np.repeat(row.case.sketch[:, :, None], 3, axis=2),
            hint_overlay(row.case.sketch, row.case.hint_map(row.count)),
            *(row.outputs[name] for name in systems),
            row.case.truth,
        ]
        lines.append(cells)
    blocks = [header, *lines]

    def hstack(cells: list[U8]) -> U8:
        gap = np.full((cells[0].shape[0], pad, 3), 255, np.uint8)
        parts: list[U8] = []
        for c in cells:
            parts += [c, gap]
        return np.concatenate(parts[:-1], axis=1)

    stacked = []
    for b in blocks:
        stacked.append(hstack(b))
        stacked.append(np.full((pad, stacked[-1].shape[1], 3), 255, np.uint8))
    return np.concatenate(stacked[:-1], axis=0)


def write_png(path: Path, rgb: U8) -> None:
    """Write an RGB image as PNG."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(path), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)):
        raise OSError(f"could not write {path}")
