"""What a source hands the preparation loop, and what the loop writes for it.

A source yields :class:`Item` objects: SVG text of the colored drawing and, where the source has
its own line art, SVG text of that line art. The loop (:mod:`.prepare`) renders both at the
requested size, applies the source's filter and writes the pair, so every source gets the same
rendering, the same files and the same manifest.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import numpy as np
import numpy.typing as npt

U8 = npt.NDArray[np.uint8]


@dataclass(frozen=True)
class Item:
    """One drawing of a source, as vectors.

    ``keys`` name the drawing: items sharing any key are the same drawing and land in the same
    split (a skin-tone variant shares its line art with the others). ``line_svg`` is None when the
    source has no line art of its own: the line extractor makes it from the rendered colors.
    """

    name: str
    color_svg: bytes
    line_svg: bytes | None
    keys: tuple[str, ...]
    #: How the pair is made, for the manifest (one short sentence).
    how: str
    #: Extra facts for the manifest (the seed of a generated face, the source file...).
    meta: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Rendered:
    """An item rendered at one size: RGBA colors and gray line art, both [size, size]."""

    color: U8  # [H, W, 4] RGBA, alpha 0 where the source is transparent
    lines: U8  # [H, W] gray, 0 ink on 255 paper


class Source(Protocol):
    """A registry package of real line art."""

    #: Folder and flag name.
    name: str
    #: Package and version fetched, e.g. ``npm openmoji@17.0.0``.
    package: str
    version: str
    license: str
    attribution: str
    homepage: str

    def fetch(self, cache: Path) -> Path:
        """Fetch (once: the cache is reused) and unpack the package; returns its root folder."""
        ...

    def items(self, root: Path) -> Iterator[Item]:
        """Every candidate drawing, in a fixed order."""
        ...

    def drop_reason(self, item: Item, rendered: Rendered) -> str | None:
        """Why this rendered pair is not kept (a short tag for the manifest), or None to keep it."""
        ...
