"""The openclipart source on its committed fixture: listing, identity, the filter, the line art."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from colorizer.datasets.base import Item, Rendered
from colorizer.datasets.openclipart import (
    SOURCE,
    OpenclipartSource,
    content_key,
    render,
    slug,
)
from colorizer.datasets.sheet import sample_sheet

SIZE = 256  # the size the thresholds were tuned at

EXPECTED: dict[str, str | None] = {
    "animals/mammals/contour_fox.svg": "not_outlined",
    "computer/icons/flat-theme/action/pen_style_nopen.svg": "gradient",
    "food/desserts/pie_apple_bw.svg": "colorless",
    "food/fruit/lemon_simple.svg": None,
    "food/fruit/watermelon_simple.svg": None,
    "people/ppl3.svg": None,
    "recreation/music/treble_clef_01.svg": "ink_heavy",
    "signs_and_symbols/flags/signalflag_quebec.svg": "category",
}


@pytest.fixture
def root(fixture_root: Path) -> Path:
    return fixture_root / "openclipart"


@pytest.fixture(scope="module")
def rendered() -> dict[str, tuple[Item, Rendered]]:
    folder = Path(__file__).resolve().parents[2] / "fixtures" / "real" / "openclipart"
    items = OpenclipartSource(prefilter=False).items(folder)
    return {item.meta["file"]: (item, render(item, SIZE)) for item in items}


def test_attributes() -> None:
    assert SOURCE.name == "openclipart"
    assert SOURCE.version == "1:0.18+dfsg-19"
    assert SOURCE.package == "debian openclipart-svg 1:0.18+dfsg-19"
    assert "public domain" in SOURCE.license
    assert SOURCE.homepage == "https://openclipart.org"
    assert SOURCE.attribution


def test_items_lists_every_file_in_sorted_order_with_stable_identity(root: Path) -> None:
    items = list(OpenclipartSource(prefilter=False).items(root))
    files = [item.meta["file"] for item in items]
    assert files == sorted(EXPECTED)
    lemon = items[files.index("food/fruit/lemon_simple.svg")]
    assert lemon.name == "food__fruit__lemon_simple"
    assert lemon.keys[0] == "openclipart-food/fruit/lemon_simple"
    assert lemon.keys[1] == content_key((root / "food/fruit/lemon_simple.svg").read_bytes())
    assert lemon.line_svg is None and lemon.how
    assert len({item.name for item in items}) == len(items)
    again = list(OpenclipartSource(prefilter=False).items(root))
    assert [(i.name, i.keys) for i in again] == [(i.name, i.keys) for i in items]


def test_items_accepts_the_unpacked_package_layout(root: Path, tmp_path: Path) -> None:
    shutil.copytree(root, tmp_path / "usr" / "share" / "openclipart" / "svg")
    names = [item.name for item in OpenclipartSource(prefilter=False).items(tmp_path)]
    assert names == [item.name for item in OpenclipartSource(prefilter=False).items(root)]


def test_prefilter_skips_and_counts_symlinks_category_and_text_rules(root: Path, tmp_path: Path) -> None:
    tree = tmp_path / "svg"
    shutil.copytree(root, tree)
    (tree / "food" / "lemon_again.svg").symlink_to("fruit/lemon_simple.svg")
    source = OpenclipartSource()
    files = [item.meta["file"] for item in source.items(tree)]
    assert files == sorted(f for f, why in EXPECTED.items() if why not in ("gradient", "category"))
    assert source.skipped == {"symlink": 1, "category": 1, "gradient": 1}


def test_a_copy_under_another_name_shares_the_content_key(root: Path, tmp_path: Path) -> None:
    svg = (root / "people/ppl3.svg").read_bytes()
    renamed = svg.replace(b'sodipodi:docname="', b'sodipodi:docname="copy_of_')
    reflowed = renamed.replace(b"\n", b"\n   ")
    assert reflowed != svg
    assert content_key(reflowed) == content_key(svg)
    assert content_key(svg.replace(b"fill-opacity:0.23999999", b"fill-opacity:0.5")) != content_key(svg)


def test_slug_is_file_system_safe() -> None:
    assert (
        slug("computer/icons/flat-theme/action/viewmag+.svg")
        == "computer__icons__flat-theme__action__viewmag_"
    )


def test_filter_keeps_the_cartoons_and_drops_the_rest_with_their_tags(
    rendered: dict[str, tuple[Item, Rendered]],
) -> None:
    got = {f: OpenclipartSource().drop_reason(item, r) for f, (item, r) in rendered.items()}
    assert got == EXPECTED


def test_line_art_is_gray_ink_on_paper_of_the_right_size(rendered: dict[str, tuple[Item, Rendered]]) -> None:
    for _, r in rendered.values():
        assert r.color.shape == (SIZE, SIZE, 4) and r.color.dtype == np.uint8
        assert r.lines.shape == (SIZE, SIZE) and r.lines.dtype == np.uint8
    _, lemon = rendered["food/fruit/lemon_simple.svg"]
    assert lemon.lines[0, 0] == 255 and lemon.lines.min() == 0  # paper is white, outlines are black
    assert 0.02 < float((lemon.lines < 128).mean()) < 0.2


def test_rendering_is_deterministic(rendered: dict[str, tuple[Item, Rendered]]) -> None:
    item, first = rendered["people/ppl3.svg"]
    second = render(item, SIZE)
    assert np.array_equal(first.color, second.color)
    assert np.array_equal(first.lines, second.lines)


def test_sample_sheet_puts_kept_and_dropped_thumbnails_on_one_image(
    rendered: dict[str, tuple[Item, Rendered]],
) -> None:
    pairs = [(r, OpenclipartSource().drop_reason(item, r)) for item, r in rendered.values()]
    sheet = sample_sheet(pairs, 48, columns=4)
    assert sheet.dtype == np.uint8 and sheet.ndim == 3 and sheet.shape[2] == 3
    assert sheet.shape[1] == 4 * (2 * 48 + 6)
    assert sheet.shape[0] == 24 + 1 * (48 + 16) + 24 + 2 * (48 + 16)  # 3 kept, 5 dropped
