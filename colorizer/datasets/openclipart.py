"""openclipart: public-domain clip art from Debian's ``openclipart-svg`` package, filtered to cartoons.

The package holds 7458 SVG files (plus 663 symbolic links that are the same files under a second
name) drawn by hundreds of people: flags, icons, maps, spirographs, photo-real gradient art and a
few hundred *outlined flat-color cartoons* (food, people, animals, transport), which is
the kind of picture a colorist is asked to fill. Only those are kept. The source has no line art
of its own, so ``Item.line_svg`` is None and the line art is made by our extractor from the
rendered colors, ``extract_lines(on_white(rgba))``, exactly as the gateway makes a sketch.

The filter runs in two stages, both applied by :meth:`OpenclipartSource.drop_reason`, so the
manifest can count every reason (the first failing rule is the tag):

1. **Path and SVG text** (cheap, exact): files in the package's non-cartoon folders (shapes,
   signs and flags, maps, logos, buttons, patterns: ``category``), a *used* gradient
   (``gradient``), a ``<filter>`` such as a blur (``filter``), an embedded raster ``<image>``
   (``raster``), a ``<pattern>`` fill (``pattern``) and ``<text>`` (``text``: labels and signs,
   rendered with whatever fonts the machine has, so not even reproducible across machines).
   None of these gives flat colors inside drawn lines. By default (``prefilter=True``)
   :meth:`OpenclipartSource.items` applies them already and counts the files it leaves out in
   ``OpenclipartSource.skipped`` under the same tags: they are three quarters of the package and
   most of its rendering time.
2. **Pixels** of the rendered RGBA, measured by :func:`measure` (thresholds tuned at 256 px by
   looking at sample sheets of kept and dropped files over the whole package; each constant
   below says why): ``small`` (too little drawn area: spirographs, specks, drawings on a large
   empty page), ``ink_heavy`` (mostly lines: line-only drawings, hatching), ``not_outlined``
   (the edges are not thin dark outlines: silhouettes, borderless shapes), ``colorless`` (gray
   icons, black-and-white line art: nothing to colorize), ``many_colors`` (the fills are not a
   few flat colors) and ``shaded`` (smooth shading made of many stacked translucent shapes).

Symbolic links are always skipped in :meth:`items` (they are the same bytes as their target)
and counted in ``skipped["symlink"]``. Copies stored under two real names share a content-hash
key (:func:`content_key`), so the split keeps them on one side.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

import cv2
import numpy as np

from colorizer.datasets import fetch
from colorizer.datasets.base import U8, Item, Rendered
from colorizer.datasets.render import on_white, render_svg
from colorizer.lines import extract_lines

#: Where the package puts its SVG tree, relative to the unpacked root.
SVG_DIR = Path("usr/share/openclipart/svg")

# --- the SVG-text rules ------------------------------------------------------------------------

_GRADIENT_ID = re.compile(rb"<(?:\w+:)?(?:linear|radial)Gradient\b[^>]*?\bid\s*=\s*[\"']([^\"']+)[\"']")
_URL_REF = re.compile(rb"url\(\s*[\"']?#([^)\"'\s]+)[\"']?\s*\)")
_HREF_REF = re.compile(rb"href\s*=\s*[\"']#([^\"']+)[\"']")
_TEXT_RULES: tuple[tuple[str, re.Pattern[bytes]], ...] = (
    ("filter", re.compile(rb"<(?:\w+:)?filter\b")),
    ("raster", re.compile(rb"<(?:\w+:)?image\b")),
    ("pattern", re.compile(rb"<(?:\w+:)?pattern\b")),
    ("text", re.compile(rb"<(?:\w+:)?(?:text|flowRoot)\b")),
)


#: Top-level folders of the package that hold no cartoons: geometric shapes and spirographs, signs,
#: flags and map symbols, maps, logos, buttons, tiling patterns. Their outlined flat-color files
#: (warning triangles, signal flags, arrows, corner ornaments) pass every pixel rule, so the
#: package's own categories remove them.
EXCLUDED_FOLDERS = frozenset({"buttons", "geography", "logos", "shapes", "signs_and_symbols", "special"})


def category_reason(rel: str) -> str | None:
    """``category`` when the file (path relative to the SVG folder) is in an excluded folder."""
    return "category" if rel.split("/", 1)[0] in EXCLUDED_FOLDERS else None


def text_reason(svg: bytes) -> str | None:
    """The SVG-text rule this file fails, or None.

    A gradient only counts when something refers to it (``url(#id)`` or ``href="#id"``):
    Inkscape leaves unused gradients in ``<defs>`` of many flat drawings.
    """
    ids = set(_GRADIENT_ID.findall(svg))
    if ids and ids & (set(_URL_REF.findall(svg)) | set(_HREF_REF.findall(svg))):
        return "gradient"
    for tag, pattern in _TEXT_RULES:
        if pattern.search(svg):
            return tag
    return None


# --- the pixel rules ---------------------------------------------------------------------------

#: Alpha at or above which a pixel counts as drawn (covered).
COVERED_ALPHA = 128
#: Below this share of the canvas drawn, the drawing is a speck or a hairline figure.
MIN_COVERAGE = 0.10
#: Line pixels (extractor output < 128) per covered pixel above this: mostly lines, little fill
#: (line-only drawings, hatching, tiny detail), where a colorist has nothing to fill.
MAX_INK = 0.60
#: Luma below which a pixel is dark ink (the same knee as ``render.ink_of``).
DARK_LUMA = 96
#: A dark pixel is *line* (not a dark fill) when an opening with a disc this wide at 256 px
#: (scaled with the size) removes it: outlines at 256 px are 1-5 px wide, fills are wider.
THIN_DISC_AT_256 = 7
#: Share of the extractor's line pixels that are thin dark ink. An outlined cartoon's edges are
#: its outlines; a flag's, a silhouette's or a soft shape's are borders between fills. Cartoons
#: with dark-brown or partly colored outlines score 0.40-0.55, so the bar is 0.40; the signs and
#: flags that also score there are removed by the ``category`` rule.
MIN_OUTLINED = 0.40
#: Saturation and value (0..255, HSV) above which a fill pixel is colored, not gray (pale skin,
#: (255, 224, 196), has saturation 59; grays and the gray icons stay under 30).
COLOR_SAT = 40
COLOR_VAL = 60
#: Share of the fill pixels that are colored: below it the drawing is gray or black and white.
MIN_COLORFUL = 0.15
#: Fill colors are quantized to 4 bits per channel; the 12 most common bins must cover this share
#: of the fill pixels for the fills to be a few flat colors.
FLAT_BINS = 12
MIN_FLAT = 0.85
#: 5x5 color range (max over channels) in [1, SMOOTH_RANGE): a smooth ramp, not an edge (the
#: extractor's floor is 12, so a ramp this soft makes no line) and not a flat fill (range 0).
SMOOTH_RANGE = 12
#: Share of the covered pixels on a smooth ramp above which the drawing is shaded, not flat.
MAX_SMOOTH = 0.10


@dataclass(frozen=True)
class Measures:
    """What the pixel rules look at, for one rendered drawing (all shares in 0..1)."""

    coverage: float  # drawn pixels / canvas
    ink: float  # line pixels / drawn pixels
    outlined: float  # thin dark line pixels / line pixels
    colorful: float  # colored fill pixels / fill pixels
    flat: float  # fill pixels in the FLAT_BINS most common colors / fill pixels
    smooth: float  # drawn pixels on a smooth ramp / drawn pixels


def _disc(size: int) -> U8:
    d = max(3, round(THIN_DISC_AT_256 * size / 256) | 1)  # odd
    return np.asarray(cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (d, d)), np.uint8)


def measure(color: U8, lines: U8) -> Measures:
    """The pixel measures of a rendered RGBA drawing and its extracted line art (0 ink on 255).

    *Fill* pixels are drawn, fully opaque and not within 1 px of a line pixel, so antialiased
    edges do not count as extra colors or as shading.
    """
    alpha = color[..., 3]
    covered = alpha >= COVERED_ALPHA
    n_cov = max(int(covered.sum()), 1)
    rgb = on_white(color)
    edge = lines < 128
    n_edge = max(int(edge.sum()), 1)
    luma = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    dark = ((luma < DARK_LUMA) & covered).astype(np.uint8)
    thin = (dark > 0) & ~(cv2.morphologyEx(dark, cv2.MORPH_OPEN, _disc(color.shape[0])) > 0)
    near_edge = cv2.dilate(edge.astype(np.uint8), np.ones((3, 3), np.uint8)) > 0
    fill = covered & ~near_edge & (alpha == 255)
    n_fill = int(fill.sum())
    hsv = cv2.cvtColor(rgb, cv2.COLOR_RGB2HSV)
    colored = fill & (hsv[..., 1] > COLOR_SAT) & (hsv[..., 2] > COLOR_VAL)
    flat = 0.0
    if n_fill:
        q = (rgb[fill] >> 4).astype(np.int32)
        counts = np.sort(np.bincount((q[:, 0] << 8) | (q[:, 1] << 4) | q[:, 2]))[::-1]
        flat = float(counts[:FLAT_BINS].sum() / n_fill)
    k5 = np.ones((5, 5), np.uint8)
    spread = (cv2.dilate(rgb, k5).astype(np.int16) - cv2.erode(rgb, k5).astype(np.int16)).max(axis=2)
    smooth = covered & (spread > 0) & (spread < SMOOTH_RANGE)
    return Measures(
        coverage=float(covered.mean()),
        ink=float(edge.sum() / n_cov),
        outlined=float((edge & thin).sum() / n_edge),
        colorful=float(colored.sum() / max(n_fill, 1)),
        flat=flat,
        smooth=float(smooth.sum() / n_cov),
    )


def pixel_reason(m: Measures) -> str | None:
    """The pixel rule these measures fail (in the order of the module docstring), or None."""
    if m.coverage < MIN_COVERAGE:
        return "small"
    if m.ink > MAX_INK:
        return "ink_heavy"
    if m.outlined < MIN_OUTLINED:
        return "not_outlined"
    if m.colorful < MIN_COLORFUL:
        return "colorless"
    if m.flat < MIN_FLAT:
        return "many_colors"
    if m.smooth > MAX_SMOOTH:
        return "shaded"
    return None


# --- identity ----------------------------------------------------------------------------------

_STRIP = (
    re.compile(rb"<!--.*?-->", re.S),
    re.compile(rb"<metadata\b.*?</metadata\s*>", re.S),
    re.compile(rb"<sodipodi:namedview\b.*?(?:/>|</sodipodi:namedview\s*>)", re.S),
    re.compile(
        rb"\s(?:sodipodi:docname|sodipodi:docbase|inkscape:export-\w+|inkscape:version)\s*=\s*\"[^\"]*\""
    ),
)
_SPACE = re.compile(rb"\s+")


def content_key(svg: bytes) -> str:
    """A hash of the drawing's SVG with comments, metadata, editor state and whitespace removed.

    openclipart stores some drawings twice under different names; the copies differ at most in
    the editor's bookkeeping (file name, export path, author metadata), which this ignores.
    """
    text = svg
    for pattern in _STRIP:
        text = pattern.sub(b" ", text)
    text = _SPACE.sub(b" ", text).strip()
    return "openclipart-sha1-" + hashlib.sha1(text).hexdigest()


def slug(rel: str) -> str:
    """A file-system-safe name of a path relative to the SVG folder, without ``.svg``."""
    stem = rel[:-4] if rel.lower().endswith(".svg") else rel
    return re.sub(r"[^A-Za-z0-9._-]", "_", stem.replace("/", "__"))


def svg_folder(root: Path) -> Path:
    """The SVG tree under an unpacked package root, or ``root`` itself when it is such a tree."""
    inner = root / SVG_DIR
    return inner if inner.is_dir() else root


def render(item: Item, size: int) -> Rendered:
    """Colors and extracted line art at ``size``, as the preparation loop makes them for this source."""
    color = render_svg(item.color_svg, size)
    return Rendered(color=color, lines=extract_lines(on_white(color)))


class OpenclipartSource:
    """The outlined flat-color cartoons of Debian's ``openclipart-svg``."""

    name = "openclipart"
    version = "1:0.18+dfsg-19"
    package = f"debian openclipart-svg {version}"
    license = "public domain (CC0 / openclipart.org dedication)"
    attribution = "Open Clip Art Library contributors (openclipart.org), via Debian's openclipart-svg package"
    homepage = "https://openclipart.org"

    def __init__(self, *, prefilter: bool = True) -> None:
        #: Apply the ``category`` and SVG-text rules in :meth:`items` already (counted in
        #: ``skipped``), so the half of the package that fails them is never rendered: gradient
        #: files are 40% of the files and half of the rendering time (one takes 30-90 s).
        self.prefilter = prefilter
        #: What the last :meth:`items` left out before yielding, by reason (for the manifest):
        #: ``symlink`` always, the ``category`` and SVG-text tags when ``prefilter`` is on.
        self.skipped: dict[str, int] = {}

    def fetch(self, cache: Path) -> Path:
        """The unpacked Debian package (``apt-get download`` + ``dpkg-deb -x``, once)."""
        return fetch.debian_package("openclipart-svg", self.version, cache)

    def _skip(self, tag: str) -> None:
        self.skipped[tag] = self.skipped.get(tag, 0) + 1

    def items(self, root: Path) -> Iterator[Item]:
        """Every regular SVG file under the package's SVG folder (or ``root``), in sorted path order.

        Symbolic links are counted in ``self.skipped["symlink"]`` and not yielded: they are the
        same file as their target, which is yielded under its own name. With ``prefilter``,
        files failing the ``category`` or an SVG-text rule are counted under that tag instead.
        """
        folder = svg_folder(root)
        self.skipped = {}
        used: set[str] = set()
        for path in sorted(folder.rglob("*.svg"), key=lambda p: p.relative_to(folder).as_posix()):
            if path.is_symlink():
                self._skip("symlink")
                continue
            if not path.is_file():
                continue
            rel = path.relative_to(folder).as_posix()
            if self.prefilter and (tag := category_reason(rel)) is not None:
                self._skip(tag)
                continue
            svg = path.read_bytes()
            if self.prefilter and (tag := text_reason(svg)) is not None:
                self._skip(tag)
                continue
            name = slug(rel)
            if name in used:  # two paths that differ only in unsafe characters
                name = f"{name}-{hashlib.sha1(rel.encode()).hexdigest()[:8]}"
            used.add(name)
            yield Item(
                name=name,
                color_svg=svg,
                line_svg=None,
                keys=(f"openclipart-{rel[:-4]}", content_key(svg)),
                how="openclipart SVG rendered to colors; line art extracted from them by extract_lines.",
                meta={"file": rel},
            )

    def drop_reason(self, item: Item, rendered: Rendered) -> str | None:
        """The first rule (category, SVG text, then pixels) this drawing fails, as a tag, or None."""
        reason = category_reason(item.meta.get("file", "")) or text_reason(item.color_svg)
        if reason is not None:
            return reason
        return pixel_reason(measure(rendered.color, rendered.lines))


SOURCE = OpenclipartSource()


def measures_dict(rendered: Rendered) -> dict[str, float]:
    """The pixel measures as a plain dict (for the manifest or a report)."""
    return asdict(measure(rendered.color, rendered.lines))


# --- the sample sheet --------------------------------------------------------------------------
