"""The preparation loop shared by every source: fetch, render, filter, write pairs, split, manifest.

Resumable: every finished item is appended to ``SOURCE/.state.jsonl`` as it is done, and a
restarted run skips those. Idempotent: when ``manifest.json`` records the same recipe (package,
size, split shares, limit, :data:`RECIPE`), the source is up to date and nothing is redone.
Deterministic: rendering is, PNGs are written at a fixed compression level, and the split is a
hash of the drawing (:mod:`.split`).
"""

from __future__ import annotations

import json
import multiprocessing as mp
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from tqdm import tqdm

from colorizer.datasets import logger
from colorizer.datasets.base import Item, Rendered, Source
from colorizer.datasets.render import RenderError, ink_of, on_white, render_svg
from colorizer.datasets.sheet import sample_sheet
from colorizer.datasets.split import DEFAULT_SPLIT, SPLITS, group_drawings, split_of
from colorizer.lines import extract_lines

#: Bumped whenever what a pair looks like changes (rendering, line art, filters): a manifest with
#: another recipe is rebuilt.
RECIPE = 1
#: Fixed PNG compression: identical arrays give identical files.
_PNG = [cv2.IMWRITE_PNG_COMPRESSION, 6]


@dataclass(frozen=True)
class Options:
    """What one preparation run makes."""

    out: Path
    cache: Path
    size: int = 512
    shares: tuple[int, int, int] = DEFAULT_SPLIT
    #: Only the first ``limit`` candidates (a quick run); None for all.
    limit: int | None = None
    #: Only the candidates of this split (e.g. "test", to render the held-out drawings at another
    #: size); applied before ``limit``. The split is by drawing over all candidates, so a pair
    #: keeps the split it has in the full data set.
    only_split: str | None = None
    workers: int = 2
    progress: bool = True


def render_item(item: Item, size: int) -> Rendered:
    """Both images of a pair: the colors as drawn, the line art from its own vectors or extracted."""
    color = render_svg(item.color_svg, size)
    if item.line_svg is not None:
        lines = ink_of(render_svg(item.line_svg, size))
    else:
        lines = np.asarray(extract_lines(on_white(color)), np.uint8)
    return Rendered(color=color, lines=lines)


def write_pair(folder: Path, name: str, rendered: Rendered) -> None:
    """``lines/NAME.png`` (gray) and ``color/NAME.png`` (RGBA) under ``folder``."""
    cv2.imwrite(str(folder / "lines" / f"{name}.png"), rendered.lines, _PNG)
    bgra = cv2.cvtColor(rendered.color, cv2.COLOR_RGBA2BGRA)
    cv2.imwrite(str(folder / "color" / f"{name}.png"), bgra, _PNG)


def read_pair(folder: Path, name: str) -> Rendered:
    """A written pair back as arrays (RGBA colors, gray lines)."""
    lines = cv2.imread(str(folder / "lines" / f"{name}.png"), cv2.IMREAD_GRAYSCALE)
    bgra = cv2.imread(str(folder / "color" / f"{name}.png"), cv2.IMREAD_UNCHANGED)
    if lines is None or bgra is None:
        raise FileNotFoundError(f"no pair {name} under {folder}")
    color = np.ascontiguousarray(cv2.cvtColor(bgra, cv2.COLOR_BGRA2RGBA), dtype=np.uint8)
    return Rendered(color=color, lines=np.asarray(lines, np.uint8))


# The worker processes get the source once (initializer), then items one by one.
_WORKER: dict[str, Any] = {}


def _init_worker(source: Source, folder: Path, size: int) -> None:
    cv2.setNumThreads(1)
    _WORKER.update(source=source, folder=folder, size=size)


def _work(item: Item) -> dict[str, Any]:
    source: Source = _WORKER["source"]
    try:
        rendered = render_item(item, _WORKER["size"])
    except RenderError as exc:
        return {"name": item.name, "kept": False, "reason": "render-failed", "error": str(exc)[:300]}
    reason = source.drop_reason(item, rendered)
    if reason is None:
        write_pair(_WORKER["folder"], item.name, rendered)
    return {"name": item.name, "kept": reason is None, "reason": reason}


def _recipe(source: Source, opts: Options) -> dict[str, Any]:
    return {
        "recipe": RECIPE,
        "package": source.package,
        "size": opts.size,
        "shares": list(opts.shares),
        "limit": opts.limit,
        # only when set: the recipes of full runs stay as they were (no re-render)
        **({"only_split": opts.only_split} if opts.only_split else {}),
        **getattr(source, "recipe", {}),
    }


def up_to_date(source: Source, opts: Options) -> bool:
    """True when ``OUT/SOURCE/manifest.json`` was made by the same recipe (nothing to redo)."""
    path = opts.out / source.name / "manifest.json"
    if not path.is_file():
        return False
    try:
        return bool(json.loads(path.read_text()).get("made_by") == _recipe(source, opts))
    except (OSError, json.JSONDecodeError):
        return False


def prepare(source: Source, opts: Options) -> dict[str, Any]:
    """Prepare one source into ``OUT/SOURCE``; returns its manifest (written as manifest.json)."""
    folder = opts.out / source.name
    manifest_path = folder / "manifest.json"
    if up_to_date(source, opts):
        logger.info("%s: up to date (%s)", source.name, manifest_path)
        return dict(json.loads(manifest_path.read_text()))
    started = time.monotonic()
    root = source.fetch(opts.cache)
    items = list(source.items(root))
    if opts.only_split is not None:
        # Whole drawings go (all of a drawing's items share its split), so the drawing ids, the
        # smallest key of each group, are the ones the full data set gives.
        drawings = group_drawings([i.keys for i in items])
        wanted = [split_of(d, opts.shares) == opts.only_split for d in drawings]
        items = [i for i, keep in zip(items, wanted, strict=True) if keep]
    if opts.limit is not None:
        items = items[: opts.limit]
    names = [i.name for i in items]
    if len(set(names)) != len(names):
        raise ValueError(f"{source.name}: two items share a name")
    for sub in ("lines", "color"):
        (folder / sub).mkdir(parents=True, exist_ok=True)

    state_path = folder / ".state.jsonl"
    recipe = _recipe(source, opts)
    done: dict[str, dict[str, Any]] = {}
    if state_path.is_file():
        lines = state_path.read_text().splitlines()
        if lines and json.loads(lines[0]).get("made_by") == recipe:
            for line in lines[1:]:
                rec = json.loads(line)
                done[rec["name"]] = rec
        else:
            state_path.unlink()  # another recipe: start over
    if not state_path.is_file():
        state_path.write_text(json.dumps({"made_by": recipe}) + "\n")
    todo = [i for i in items if i.name not in done]
    logger.info(
        "%s: %d candidates, %d already done, %d to render", source.name, len(items), len(done), len(todo)
    )

    with state_path.open("a") as state:
        bar = tqdm(
            total=len(todo), desc=source.name, unit="pair", disable=not opts.progress, dynamic_ncols=True
        )
        if opts.workers > 1 and len(todo) > 1:
            ctx = mp.get_context("spawn")
            with ctx.Pool(opts.workers, _init_worker, (source, folder, opts.size)) as pool:
                for rec in pool.imap_unordered(_work, todo, chunksize=8):
                    state.write(json.dumps(rec) + "\n")
                    state.flush()  # a killed run keeps what it rendered
                    done[rec["name"]] = rec
                    bar.update(1)
        else:
            _init_worker(source, folder, opts.size)
            for item in todo:
                rec = _work(item)
                state.write(json.dumps(rec) + "\n")
                state.flush()
                done[rec["name"]] = rec
                bar.update(1)
        bar.close()

    manifest = build_manifest(source, opts, items, done, time.monotonic() - started)
    write_sheet(folder, items, done, opts.size)
    manifest_path.write_text(json.dumps(manifest, indent=1, sort_keys=False) + "\n")
    # Pairs written by an earlier, larger run that this one does not keep are removed.
    kept = {p["name"] for p in manifest["pairs"]}
    for sub in ("lines", "color"):
        for f in (folder / sub).glob("*.png"):
            if f.stem not in kept:
                f.unlink()
    return manifest


#: Drawings on the sample sheet: kept ones (read back), dropped ones (rendered again).
SHEET_KEPT = 36
SHEET_DROPPED = 18


def write_sheet(folder: Path, items: Sequence[Item], done: dict[str, dict[str, Any]], size: int) -> Path:
    """``FOLDER/sample_sheet.png``: the first kept and dropped drawings, with their drop tags."""
    kept = [i for i in items if done[i.name]["kept"]][:SHEET_KEPT]
    dropped = [i for i in items if not done[i.name]["kept"] and done[i.name]["reason"] != "render-failed"]
    # Evenly spread over the source, not its first files only.
    dropped = dropped[:: max(1, len(dropped) // SHEET_DROPPED)][:SHEET_DROPPED]
    pairs: list[tuple[Rendered, str | None]] = [(read_pair(folder, i.name), None) for i in kept]
    pairs += [(render_item(i, size), str(done[i.name]["reason"])) for i in dropped]
    path = folder / "sample_sheet.png"
    cv2.imwrite(str(path), cv2.cvtColor(sample_sheet(pairs, 96), cv2.COLOR_RGB2BGR), _PNG)
    return path


def build_manifest(
    source: Source,
    opts: Options,
    items: Sequence[Item],
    done: dict[str, dict[str, Any]],
    seconds: float,
) -> dict[str, Any]:
    """The manifest: provenance, license and attribution, counts, split sizes, one record per pair."""
    drawings = group_drawings([i.keys for i in items])
    pairs: list[dict[str, Any]] = []
    dropped: Counter[str] = Counter()
    for item, drawing in zip(items, drawings, strict=True):
        rec = done[item.name]
        if not rec["kept"]:
            dropped[str(rec["reason"])] += 1
            continue
        pairs.append(
            {
                "name": item.name,
                "drawing": drawing,
                "split": split_of(drawing, opts.shares),
                "how": item.how,
                **item.meta,
            }
        )
    pairs.sort(key=lambda p: p["name"])
    splits = {s: sum(p["split"] == s for p in pairs) for s in SPLITS}
    split_drawings = {s: len({p["drawing"] for p in pairs if p["split"] == s}) for s in SPLITS}
    extra = getattr(source, "skipped", None)
    return {
        "source": source.name,
        "package": source.package,
        "version": source.version,
        "license": source.license,
        "attribution": source.attribution,
        "homepage": source.homepage,
        "size": opts.size,
        "layout": "lines/NAME.png: 8-bit gray, 0 ink on 255 paper; color/NAME.png: 8-bit RGBA, "
        "alpha 0 where the source is transparent (paper)",
        "made_by": _recipe(source, opts),
        "candidates": len(items),
        "count": len(pairs),
        "drawings": len(set(p["drawing"] for p in pairs)),
        "dropped": dict(sorted(dropped.items())),
        "skipped_before_render": dict(extra) if extra else {},
        "splits": splits,
        "split_drawings": split_drawings,
        "seconds": round(seconds, 1),
        "pairs": pairs,
    }
