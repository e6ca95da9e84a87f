"""Flat fill before and after a change, side by side in one process (the machine is shared).

``speed``: regions + fill at 2048 x 2048 and 3000 x 2700, the two versions interleaved on one
OpenCV thread, and (``--heavy``) the hint layer of the heaviest stroke the limits allow.
``quality``: ``colorizer eval --set real`` cases with line gaps punched in (``--gap-widths``), both
versions on the same model outputs, leak share and figure error at 16 hints per width.

The earlier version is colorizer/imaging/flatten.py at ``--before`` (a git revision), loaded
from ``git show`` as its own module::

    python scripts/compare_flat_fill.py speed --before 8bdc932 --heavy
    python scripts/compare_flat_fill.py quality --before 8bdc932 --limit 8
    python scripts/compare_flat_fill.py quality --before ac09da4 --before-gap 15  # before neck cuts
    python scripts/compare_flat_fill.py quality --before 259a002 --before-gap 15 --open-figure-de 8,inf
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import ModuleType
from typing import Any

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import workload  # noqa: E402
from colorizer.imaging import StrokeHint  # noqa: E402
from colorizer.imaging import flatten as after  # noqa: E402


def show_at(rev: str, path: str) -> str | None:
    """The file at ``rev``, None where it has none."""
    done = subprocess.run(["git", "show", f"{rev}:{path}"], cwd=ROOT, capture_output=True, text=True)
    return done.stdout if done.returncode == 0 else None


def load_module(name: str, text: str) -> ModuleType:
    """Python source ``text`` imported as the module ``name`` (an older revision of a file)."""
    path = Path(tempfile.mkdtemp()) / f"{name}.py"
    path.write_text(text)
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def _before(rev: str) -> ModuleType:
    """flatten.py at ``rev``, with gaps.py at ``rev`` where it imports it (not today's)."""
    text = show_at(rev, "colorizer/imaging/flatten.py")
    if text is None:
        raise SystemExit(f"no colorizer/imaging/flatten.py at {rev}")
    gaps = show_at(rev, "colorizer/imaging/gaps.py")
    if gaps is not None:
        load_module("gaps_before", gaps)
        text = text.replace("from colorizer.imaging.gaps import", "from gaps_before import")
    return load_module("flatten_before", text)


def speed(before: ModuleType, reps: int, heavy: bool) -> None:
    """Per page size: ``reps`` interleaved runs of each version; the CPU time of this thread (what
    a free core would take: a shared machine's waiting left out, its page faults kept), min and
    median, and the median wall time; and how many output pixels differ between the versions."""
    cv2.setNumThreads(1)
    for h, w in ((2048, 2048), (2700, 3000)):
        s = workload.sample(h, w, seed=h + w)
        gray = cv2.imdecode(np.frombuffer(s.png, np.uint8), cv2.IMREAD_GRAYSCALE)
        canvas = np.random.default_rng(h).integers(0, 256, (h // 8, w // 8, 3), dtype=np.uint8)
        rgb = cv2.resize(canvas, (w, h), interpolation=cv2.INTER_LINEAR)
        layer = after.hint_layer(h, w, s.points, s.strokes)
        outs = [mod.flatten_regions(rgb, gray, layer) for mod in (before, after)]  # warm-up
        differ = int(np.count_nonzero((outs[0] != outs[1]).any(axis=2)))
        cpu: dict[str, list[float]] = {"before": [], "after": []}
        wall: dict[str, list[float]] = {"before": [], "after": []}
        for _ in range(reps):
            for name, mod in (("before", before), ("after", after)):
                t0, c0 = time.perf_counter(), time.thread_time()
                mod.flatten_regions(rgb, gray, layer)
                cpu[name].append(time.thread_time() - c0)
                wall[name].append(time.perf_counter() - t0)
        b, a = (statistics.median(cpu[k]) for k in ("before", "after"))
        bm, am = (min(cpu[k]) for k in ("before", "after"))
        bw, aw = (statistics.median(wall[k]) for k in ("before", "after"))
        print(
            f"regions + fill {w}x{h}, CPU ms min/median: before {1000 * bm:.0f}/{1000 * b:.0f}, "
            f"after {1000 * am:.0f}/{1000 * a:.0f}, before/after {bm / am:.2f}x/{b / a:.2f}x; "
            f"wall median before {1000 * bw:.0f}, after {1000 * aw:.0f}; {differ} px differ"
        )
    if heavy:
        h, w = 3000, 4000
        rng = np.random.default_rng(4096)
        xy = tuple((float(x), float(y)) for x, y in rng.uniform(0, (w, h), (4096, 2)))
        stroke = StrokeHint(xy, 1024, (200, 40, 40))
        took = {}
        for name, mod in (("after", after), ("before", before)):
            t0 = time.perf_counter()
            mod.hint_layer(h, w, (), [stroke])
            took[name] = time.perf_counter() - t0
        print(
            f"hint layer, 1 stroke of 4096 points, width 1024, 4000x3000: before {took['before']:.1f} s, "
            f"after {took['after']:.2f} s, before/after {took['before'] / took['after']:.0f}x"
        )


def quality(
    before: ModuleType,
    limit: int,
    widths: list[int],
    out: Path,
    before_gap: int = 3,
    open_des: tuple[float, ...] = (),
) -> None:
    """The real eval's cases with gaps, the model once, both flat fills on its outputs; with
    ``open_des``, today's fill again per value of ``flatten.OPEN_FIGURE_WHITE_DE``."""
    from colorizer.eval.real import ALL_SET, gapped_name, real_sets
    from colorizer.eval.report import markdown_tables, write_json
    from colorizer.eval.runner import evaluate
    from colorizer.eval.systems import FlatFillSystem, OnnxSystem, System, hint_seeds

    class BeforeFlat(FlatFillSystem):
        def colorize(self, sketch: Any, hint: Any) -> Any:
            layer = np.zeros((*sketch.shape, 4), np.uint8)
            for y, x, rgb in hint_seeds(sketch, hint):
                layer[y, x] = (*rgb, 255)
            return before.flatten_regions(self.inner.colorize(sketch, hint), sketch, layer, gap=self.gap)

    class OpenFigure(FlatFillSystem):
        def __init__(self, inner: System, de: float) -> None:
            super().__init__(inner, f"flat fill, after (gap 15, open figure within {de:g} of white)", gap=15)
            self.de = de

        def colorize(self, sketch: Any, hint: Any) -> Any:
            kept, after.OPEN_FIGURE_WHITE_DE = after.OPEN_FIGURE_WHITE_DE, self.de
            try:
                return super().colorize(sketch, hint)
            finally:
                after.OPEN_FIGURE_WHITE_DE = kept

    model = OnnxSystem(ROOT / "model_repository/colorizer/1/model.onnx", None, threads=1)
    systems: list[System] = [
        model,
        BeforeFlat(model, f"flat fill, before (gap {before_gap})", gap=before_gap),
        FlatFillSystem(model, "flat fill, after (gap 15)", gap=15),
        FlatFillSystem(model, "flat fill, after (gap 30)", gap=30),
        *(OpenFigure(model, de) for de in open_des),
    ]
    sets, _ = real_sets(ROOT / "data/real", None, 512, limit=limit, gaps=12, gap_widths=widths)
    gapped = {gapped_name(n, w) for n in sets for w in widths}
    unions = {ALL_SET: [n for n in sets if n not in gapped]}
    for w in widths:
        unions[gapped_name(ALL_SET, w)] = [n for n in sets if n.endswith(gapped_name("", w))]
    results, _ = evaluate(sets, systems, [16], sheet_cases=0, progress=False, unions=unions)
    out.mkdir(parents=True, exist_ok=True)
    write_json(out / "report.json", results, {"limit": limit, "size": 512, "gaps": 12, "gap_widths": widths})
    (out / "report.md").write_text(markdown_tables(results, [16]))
    for union in unions:
        row = {
            s: {k: v[16][k] for k in ("leak_share", "figure_de", "paper_de")}
            for s, v in results[union].items()
        }
        print(union, json.dumps(row))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("what", choices=("speed", "quality"))
    parser.add_argument("--before", default="8bdc932", help="git revision of the earlier flatten.py")
    parser.add_argument("--reps", type=int, default=9)
    parser.add_argument("--heavy", action="store_true", help="speed: also the heaviest stroke (slow before)")
    parser.add_argument("--limit", type=int, default=8, help="quality: test pairs per source")
    parser.add_argument("--gap-widths", default="3,7,15")
    parser.add_argument(
        "--before-gap", type=int, default=3, help="quality: the earlier fill's gap setting (3 at 8bdc932)"
    )
    parser.add_argument(
        "--open-figure-de",
        default="",
        help="quality: comma-separated values of flatten.OPEN_FIGURE_WHITE_DE to run today's fill with too",
    )
    parser.add_argument("--out", type=Path, default=Path("runs/eval/flat-compare"))
    args = parser.parse_args()
    before = _before(args.before)
    if args.what == "speed":
        speed(before, args.reps, args.heavy)
    else:
        widths = [int(v) for v in args.gap_widths.split(",")]
        des = tuple(float(v) for v in args.open_figure_de.split(",") if v)
        quality(before, args.limit, widths, args.out, args.before_gap, des)


if __name__ == "__main__":
    main()
