"""The evaluation loop: every system on every case at every hint count, metrics pooled per cell.

A *cell* is one (case set, system, hint count). Pooled figures: hint fidelity is the median (and
mean) over all hints of all cases; bleeding is bled pixels over eligible pixels summed over cases;
flat-region spread, unhinted, figure and paper error are pooled over pixels; PSNR and SSIM are means
over cases. A *union* set (``real: all``) pools the cells of its member sets, case by case, without
running anything again.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from tqdm import tqdm

from colorizer.encoding import U8
from colorizer.eval import logger
from colorizer.eval.cases import PER_REGION, Case, Count
from colorizer.eval.color import srgb_to_lab
from colorizer.eval.metrics import (
    bleeding,
    figure_error,
    flat_deviation,
    hint_fidelity,
    paper_error,
    psnr,
    ssim,
    unhinted_error,
)
from colorizer.eval.systems import System


@dataclass
class Cell:
    """Running sums for one (case set, system, hint count)."""

    fidelity: list[float] = field(default_factory=list)
    bled: int = 0
    eligible: int = 0
    kept: int = 0
    flat_sq: float = 0.0
    flat_n: int = 0
    unhinted_sum: float = 0.0
    unhinted_n: int = 0
    figure_sum: float = 0.0
    figure_n: int = 0
    paper_sum: float = 0.0
    paper_n: int = 0
    psnr: list[float] = field(default_factory=list)
    ssim: list[float] = field(default_factory=list)

    def add(self, case: Case, output: U8, count: Count) -> None:
        """Score ``output`` for ``case`` with its first ``count`` hints."""
        hints = case.hints[: case.hint_count(count)]
        out_lab = srgb_to_lab(output)
        self.fidelity += hint_fidelity(output, case.labels, hints)
        b = bleeding(out_lab, case.truth_lab, case.labels, case.neighbours, hints)
        self.bled += b.bled
        self.eligible += b.eligible
        self.kept += b.kept
        sq, n = flat_deviation(out_lab, case.labels if case.flat_labels is None else case.flat_labels)
        self.flat_sq += sq
        self.flat_n += n
        s, n = unhinted_error(out_lab, case.truth_lab, case.labels, hints)
        self.unhinted_sum += s
        self.unhinted_n += n
        s, n = figure_error(out_lab, case.truth_lab, case.figure_mask)
        self.figure_sum += s
        self.figure_n += n
        if case.background is not None:
            s, n = paper_error(out_lab, case.background)
            self.paper_sum += s
            self.paper_n += n
        self.psnr.append(psnr(output, case.truth))
        self.ssim.append(ssim(output, case.truth))

    def merge(self, other: Cell) -> None:
        """Pool ``other`` (the same system and hint count on other cases) into this cell."""
        self.fidelity += other.fidelity
        self.psnr += other.psnr
        self.ssim += other.ssim
        for name in (
            "bled", "eligible", "kept", "flat_sq", "flat_n", "unhinted_sum", "unhinted_n",
            "figure_sum", "figure_n", "paper_sum", "paper_n",
        ):  # fmt: skip
            setattr(self, name, getattr(self, name) + getattr(other, name))

    def summary(self) -> dict[str, float | int | None]:
        """The pooled figures (None where a metric has nothing to measure, e.g. fidelity at 0 hints)."""

        def ratio(a: float, b: float) -> float | None:
            return a / b if b else None

        fid = np.asarray(self.fidelity)
        finite = [p for p in self.psnr if math.isfinite(p)]
        flat = ratio(self.flat_sq, self.flat_n)
        return {
            "fidelity_median": float(np.median(fid)) if fid.size else None,
            "fidelity_mean": float(fid.mean()) if fid.size else None,
            "fidelity_within_10": float((fid <= 10.0).mean()) if fid.size else None,
            "hints": int(fid.size),
            "bleeding": ratio(self.bled, self.eligible),
            "bleeding_eligible_px": self.eligible,
            "leak_share": ratio(self.bled, self.bled + self.kept),
            "flat_std": math.sqrt(flat) if flat is not None else None,
            "unhinted_de": ratio(self.unhinted_sum, self.unhinted_n),
            "figure_de": ratio(self.figure_sum, self.figure_n),
            "paper_de": ratio(self.paper_sum, self.paper_n),
            # Mean over the cases not reproduced exactly (PSNR inf); None when every one was.
            "psnr": float(np.mean(finite)) if finite else None,
            "ssim": float(np.mean(self.ssim)) if self.ssim else None,
            "cases": len(self.psnr),
        }


@dataclass
class SheetRow:
    """Images of one contact-sheet row: a case at one hint count, every system's output."""

    case: Case
    count: Count
    outputs: dict[str, U8]


def sheet_count_of(counts: Sequence[Count], sheet_count: int = 16) -> Count:
    """The hint count the contact sheets show: ``sheet_count``, or the largest number below it
    in the sweep, or the smallest one above; :data:`PER_REGION` only when the sweep has no number."""
    numbers = [c for c in counts if isinstance(c, int)]
    if not numbers:
        return PER_REGION
    return max((c for c in numbers if c <= sheet_count), default=min(numbers))


def evaluate(
    sets: Mapping[str, Sequence[Case]],
    systems: Sequence[System],
    counts: Sequence[Count],
    *,
    sheet_cases: int = 4,
    sheet_count: int = 16,
    progress: bool = True,
    unions: Mapping[str, Sequence[str]] | None = None,
) -> tuple[dict[str, dict[str, dict[Count, dict[str, Any]]]], dict[str, list[SheetRow]]]:
    """Run the grid; returns ``results[set][system][count]`` summaries and contact-sheet rows per set.

    The first ``sheet_cases`` cases of each set are kept for the sheet at ``sheet_count`` hints
    (or the largest count below it when the sweep lacks it). ``unions`` names extra sets, each
    the union of member sets (pooled from their cells; no sheet of its own), listed after them.
    """
    shown = sheet_count_of(counts, sheet_count)
    results: dict[str, dict[str, dict[Count, dict[str, Any]]]] = {}
    sheets: dict[str, list[SheetRow]] = {}
    all_cells: dict[str, dict[str, dict[Count, Cell]]] = {}
    total = sum(len(c) for c in sets.values())
    bar = tqdm(total=total, desc="eval", unit="case", disable=not progress, dynamic_ncols=True)
    try:
        for set_name, cases in sets.items():
            cells = {s.name: {n: Cell() for n in counts} for s in systems}
            rows: list[SheetRow] = []
            for i, case in enumerate(cases):
                if len(case.hints) < max(case.hint_count(n) for n in counts):
                    logger.debug("%s: only %s hint places", case.name, len(case.hints))
                row = SheetRow(case, shown, {}) if i < sheet_cases else None
                for system in systems:
                    fixed = None if system.uses_hints else system.colorize(case.sketch, case.hint_map(0))
                    for n in counts:
                        out = fixed if fixed is not None else system.colorize(case.sketch, case.hint_map(n))
                        cells[system.name][n].add(case, out, n)
                        if row is not None and n == shown:
                            row.outputs[system.name] = out
                if row is not None:
                    rows.append(row)
                bar.update(1)
            results[set_name] = {s: {n: c.summary() for n, c in per.items()} for s, per in cells.items()}
            sheets[set_name] = rows
            all_cells[set_name] = cells
    finally:
        bar.close()
    for union, members in (unions or {}).items():
        pooled = {s.name: {n: Cell() for n in counts} for s in systems}
        for member in members:
            for sys_name, per in all_cells[member].items():
                for n, cell in per.items():
                    pooled[sys_name][n].merge(cell)
        results[union] = {s: {n: c.summary() for n, c in per.items()} for s, per in pooled.items()}
        sheets[union] = []
    return results, sheets
