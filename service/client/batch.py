"""Color a folder of sketches through a gateway: bounded concurrency, resumable, with a summary.

``foo.png`` may have hints beside it in ``foo.hints.json`` (see :mod:`colorizer.imaging.hints_json`).
Results go to ``OUT_DIR/foo.<format>`` (and ``foo.psd`` / ``foo.layers.zip`` when layers are
asked for); an existing result is skipped, so a rerun resumes. Files
are written under a temporary name and renamed, so an interrupted run leaves no half image.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from colorizer.imaging import ImageInputError
from colorizer.imaging.hints_json import HintSet, load_hints_file
from service.client.client import (
    EXTENSIONS,
    LAYERS_EXTENSIONS,
    ClientError,
    ColorizeOptions,
    ColorizerClient,
    ColorizeResult,
    build_request,
)

logger = logging.getLogger("service.client")

#: File extensions taken as sketches.
SKETCH_EXTENSIONS = frozenset({".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff", ".gif"})
#: Suffix of a sketch's hint sidecar: ``foo.png`` -> ``foo.hints.json``.
HINTS_SUFFIX = ".hints.json"


@dataclass(frozen=True)
class BatchItem:
    """One sketch of the folder and where its hints and result live."""

    sketch: Path
    hints: Path | None
    output: Path


@dataclass
class BatchSummary:
    """What a batch run did."""

    done: list[Path] = field(default_factory=list)
    #: The gateway's answer for each sketch in ``done`` (image bytes, size, timings).
    results: dict[Path, ColorizeResult] = field(default_factory=dict)
    skipped: list[Path] = field(default_factory=list)
    #: (sketch, error message)
    failed: list[tuple[Path, str]] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def images_per_s(self) -> float:
        """Throughput of the images actually colored."""
        return len(self.done) / self.seconds if self.seconds > 0 else 0.0

    def line(self) -> str:
        """A one-line human summary."""
        return (
            f"{len(self.done)} done, {len(self.failed)} failed, {len(self.skipped)} skipped "
            f"in {self.seconds:.1f} s ({self.images_per_s:.2f} images/s)"
        )


def hints_path_for(sketch: Path) -> Path:
    """The sidecar hints file of ``sketch`` (which may not exist)."""
    return sketch.with_name(sketch.stem + HINTS_SUFFIX)


def layers_path_for(output: Path, layers: str) -> Path | None:
    """Where the layered file of ``output`` goes (``foo.psd``, ``foo.layers.zip``); None for none."""
    return output.with_name(output.stem + LAYERS_EXTENSIONS[layers]) if layers else None


def plan(in_dir: Path, out_dir: Path, fmt: str) -> list[BatchItem]:
    """The sketches of ``in_dir`` (sorted by name) with their sidecars and output paths."""
    if not in_dir.is_dir():
        raise FileNotFoundError(f"input folder {in_dir} does not exist")
    items = []
    for path in sorted(in_dir.iterdir()):
        if not path.is_file() or path.suffix.lower() not in SKETCH_EXTENSIONS:
            continue
        hints = hints_path_for(path)
        items.append(
            BatchItem(path, hints if hints.is_file() else None, out_dir / (path.stem + EXTENSIONS[fmt]))
        )
    return items


async def colorize_folder(
    client: ColorizerClient,
    items: list[BatchItem],
    *,
    options: ColorizeOptions,
    concurrency: int = 4,
    on_item: Callable[[BatchItem, str], None] | None = None,
) -> BatchSummary:
    """Color ``items`` with at most ``concurrency`` calls in flight.

    ``on_item(item, outcome)`` is called after each item with "done", "skipped" or "failed"
    (for a progress bar). Failures are recorded, not raised.
    """
    if concurrency < 1:
        raise ValueError(f"concurrency must be >= 1, got {concurrency}")
    summary = BatchSummary()
    queue: asyncio.Queue[BatchItem] = asyncio.Queue()
    for item in items:
        queue.put_nowait(item)
    start = time.perf_counter()

    async def worker() -> None:
        while not queue.empty():
            item = queue.get_nowait()
            outcome = await _one(client, item, options, summary)
            if on_item is not None:
                on_item(item, outcome)

    await asyncio.gather(*(worker() for _ in range(min(concurrency, max(1, len(items))))))
    summary.seconds = time.perf_counter() - start
    return summary


async def _one(
    client: ColorizerClient, item: BatchItem, options: ColorizeOptions, summary: BatchSummary
) -> str:
    layers_path = layers_path_for(item.output, options.layers)
    if item.output.exists() and (layers_path is None or layers_path.exists()):
        summary.skipped.append(item.sketch)
        return "skipped"
    try:
        hints = load_hints_file(item.hints) if item.hints else HintSet()
        sketch = await asyncio.to_thread(item.sketch.read_bytes)
        result = await client.colorize(
            build_request(sketch, hints, options=options, request_id=item.sketch.name)
        )
        if layers_path is not None:  # first: an image on disk means its layers are there too
            await asyncio.to_thread(_write_atomically, layers_path, result.layers)
        await asyncio.to_thread(_write_atomically, item.output, result.image)
    except (ClientError, ImageInputError, OSError) as exc:
        message = str(exc)
        logger.warning("%s: %s", item.sketch.name, message)
        summary.failed.append((item.sketch, message))
        return "failed"
    summary.done.append(item.sketch)
    summary.results[item.sketch] = result
    return "done"


def _write_atomically(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.part")
    tmp.write_bytes(data)
    tmp.replace(path)
