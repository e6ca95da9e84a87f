"""The data stage's shared parts: split by drawing, rendering, and the preparation loop."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
import pytest

from colorizer.datasets.base import Item, Rendered
from colorizer.datasets.openmoji import OpenMojiSource
from colorizer.datasets.prepare import Options, prepare, read_pair, render_item
from colorizer.datasets.render import ink_of, on_white, render_svg
from colorizer.datasets.split import group_drawings, split_of

_SVG = b'<svg xmlns="http://www.w3.org/2000/svg" '
SQUARE = _SVG + b'viewBox="0 0 10 10"><rect x="2" y="2" width="6" height="6" fill="#ff0000"/></svg>'
TALL = _SVG + b'viewBox="0 0 10 20"><rect width="10" height="20" fill="#0000ff"/></svg>'


def test_keys_shared_by_any_item_make_one_drawing() -> None:
    ids = group_drawings([("a", "x"), ("b", "x"), ("c",), ("b", "d"), ("e", "f")])
    assert ids[0] == ids[1] == ids[3] == "a"  # a~x~b~d through shared keys
    assert ids[2] == "c" and ids[4] == "e"
    # The id does not depend on the order the items come in.
    again = group_drawings([("e", "f"), ("b", "d"), ("c",), ("b", "x"), ("a", "x")])
    assert again == ["e", "a", "c", "a", "a"]


def test_split_is_a_stable_hash_with_the_asked_shares() -> None:
    ids = [f"drawing-{i}" for i in range(4000)]
    splits = [split_of(d) for d in ids]
    assert splits == [split_of(d) for d in ids]
    share = {s: splits.count(s) / len(ids) for s in ("train", "val", "test")}
    assert abs(share["train"] - 0.8) < 0.03 and abs(share["test"] - 0.1) < 0.02
    assert all(split_of(d, (0, 0, 100)) == "test" for d in ids[:50])
    with pytest.raises(ValueError, match="adding to 100"):
        split_of("x", (50, 10, 10))


def test_render_fits_the_vector_into_the_square_and_keeps_transparency() -> None:
    img = render_svg(SQUARE, 100)
    assert img.shape == (100, 100, 4) and img.dtype == np.uint8
    assert img[0, 0, 3] == 0 and tuple(img[50, 50]) == (255, 0, 0, 255)
    assert np.array_equal(img, render_svg(SQUARE, 100))  # deterministic
    tall = render_svg(TALL, 64)  # aspect kept: 32 px wide, centered
    cols = np.nonzero(tall[32, :, 3])[0]
    assert cols.min() == 16 and cols.max() == 47
    assert tall[:, :16, 3].max() == 0 and tall[:, 48:, 3].max() == 0
    white = on_white(img)
    assert tuple(white[0, 0]) == (255, 255, 255) and tuple(white[50, 50]) == (255, 0, 0)


def test_ink_counts_dark_strokes_of_any_color_as_full_ink() -> None:
    rgba = np.zeros((2, 3, 4), np.uint8)
    rgba[0, 0] = (0x45, 0x41, 0x3C, 255)  # the streamline outline brown
    rgba[0, 1] = (0, 0, 0, 128)  # half-covered black edge
    rgba[0, 2] = (255, 255, 255, 255)  # opaque white is paper
    lines = ink_of(rgba)
    assert lines[0, 0] == 0 and 120 <= lines[0, 1] <= 135 and lines[0, 2] == 255 and lines[1, 0] == 255


class FixtureOpenMoji(OpenMojiSource):
    """OpenMoji read from the committed fixture instead of the npm tarball (same layout)."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def fetch(self, cache: Path) -> Path:
        return self.root


def test_openmoji_pairs_filters_and_split_by_drawing(fixture_root: Path, tmp_path: Path) -> None:
    source = FixtureOpenMoji(fixture_root / "openmoji")
    opts = Options(out=tmp_path / "real", cache=tmp_path / "cache", size=128, workers=1, progress=False)
    m = prepare(source, opts)
    assert m["candidates"] == 8
    assert m["dropped"] == {"line-supplement-white": 1, "near-gray": 1, "solid-black": 1}
    names = {p["name"]: p for p in m["pairs"]}
    assert set(names) == {"1F34E", "1F44B", "1F44B-1F3FB", "1F44B-1F3FF", "1F600"}
    # The three skin tones of the wave are one drawing, in one split.
    waves = [names[n] for n in ("1F44B", "1F44B-1F3FB", "1F44B-1F3FF")]
    assert len({w["drawing"] for w in waves}) == 1 and len({w["split"] for w in waves}) == 1
    assert m["drawings"] == 3 and sum(m["splits"].values()) == 5
    assert m["license"] == "CC-BY-SA-4.0" and "OpenMoji" in m["attribution"]
    sheet = cv2.imread(str(tmp_path / "real" / "openmoji" / "sample_sheet.png"))
    assert sheet is not None and sheet.shape[1] == 6 * (2 * 96 + 6)  # kept and dropped thumbnails
    pair = read_pair(tmp_path / "real" / "openmoji", "1F600")
    assert pair.lines.shape == (128, 128) and pair.color.shape == (128, 128, 4)
    assert pair.color[0, 0, 3] == 0  # transparent paper kept
    # The line art is the black file's: every ink pixel is dark in the colored drawing too.
    ink = pair.lines < 96
    assert ink.mean() > 0.03 and (on_white(pair.color).mean(axis=2)[ink] < 128).mean() > 0.99


def test_prepare_twice_does_no_work_and_resumes_an_interrupted_run(
    fixture_root: Path, tmp_path: Path
) -> None:
    source = FixtureOpenMoji(fixture_root / "openmoji")
    opts = Options(out=tmp_path / "real", cache=tmp_path / "cache", size=64, workers=1, progress=False)
    folder = tmp_path / "real" / "openmoji"
    first = prepare(source, opts)
    files = {p: p.read_bytes() for p in sorted(folder.rglob("*.png"))}
    stamp = (folder / "manifest.json").stat().st_mtime_ns
    assert prepare(source, opts) == first
    assert (folder / "manifest.json").stat().st_mtime_ns == stamp  # up to date: not rewritten

    # Interrupted: no manifest yet, two items not done. Only those two are rendered again.
    (folder / "manifest.json").unlink()
    state = (folder / ".state.jsonl").read_text().splitlines()
    (folder / ".state.jsonl").write_text("\n".join(state[:-2]) + "\n")
    rendered: list[str] = []

    class Counting(FixtureOpenMoji):
        def drop_reason(self, item: Item, rendered_pair: Rendered) -> str | None:
            rendered.append(item.name)
            return super().drop_reason(item, rendered_pair)

    again = prepare(Counting(fixture_root / "openmoji"), opts)
    assert len(rendered) == 2 and again["pairs"] == first["pairs"]
    assert {p: p.read_bytes() for p in sorted(folder.rglob("*.png"))} == files  # byte-identical

    # Another size is another recipe: rebuilt.
    bigger = prepare(source, Options(out=opts.out, cache=opts.cache, size=96, workers=1, progress=False))
    assert bigger["size"] == 96 and read_pair(folder, "1F600").lines.shape == (96, 96)


def test_only_split_renders_one_split_with_the_full_sets_drawings_and_splits(
    fixture_root: Path, tmp_path: Path
) -> None:
    source = FixtureOpenMoji(fixture_root / "openmoji")
    full = prepare(source, Options(out=tmp_path / "full", cache=tmp_path, size=64, workers=1, progress=False))
    for split in ("train", "val", "test"):
        opts = Options(
            out=tmp_path / split, cache=tmp_path, size=64, workers=1, progress=False, only_split=split
        )
        part = prepare(source, opts)
        expected = [p for p in full["pairs"] if p["split"] == split]
        assert part["pairs"] == expected  # same names, drawing ids and split as in the full set
        assert part["made_by"]["only_split"] == split
    assert "only_split" not in full["made_by"]  # a full run's recipe is as before: no re-render


def test_parallel_workers_give_the_same_files(fixture_root: Path, tmp_path: Path) -> None:
    source = FixtureOpenMoji(fixture_root / "openmoji")
    one = prepare(source, Options(out=tmp_path / "a", cache=tmp_path, size=64, workers=1, progress=False))
    two = prepare(source, Options(out=tmp_path / "b", cache=tmp_path, size=64, workers=2, progress=False))
    assert one["pairs"] == two["pairs"]
    for p in one["pairs"]:
        a, b = (
            read_pair(tmp_path / "a" / "openmoji", p["name"]),
            read_pair(tmp_path / "b" / "openmoji", p["name"]),
        )
        assert np.array_equal(a.color, b.color) and np.array_equal(a.lines, b.lines)


class Broken:
    """A source with one unreadable SVG: the run goes on and records why it was dropped."""

    name = "broken"
    package = "test"
    version = "0"
    license = "none"
    attribution = "none"
    homepage = ""

    def fetch(self, cache: Path) -> Path:
        return cache

    def items(self, root: Path) -> Iterator[Item]:
        yield Item("ok", SQUARE, SQUARE, ("ok",), "test")
        yield Item("bad", b"<svg not xml", None, ("bad",), "test")

    def drop_reason(self, item: Item, rendered: Rendered) -> str | None:
        return None


def test_an_unrenderable_file_is_dropped_with_its_reason(tmp_path: Path) -> None:
    m = prepare(Broken(), Options(out=tmp_path, cache=tmp_path, size=32, workers=1, progress=False))
    assert [p["name"] for p in m["pairs"]] == ["ok"] and m["dropped"] == {"render-failed": 1}
    state = [json.loads(x) for x in (tmp_path / "broken" / ".state.jsonl").read_text().splitlines()[1:]]
    assert any(r["name"] == "bad" and r["error"] for r in state)


def test_render_item_extracts_lines_when_the_source_has_none() -> None:
    r = render_item(Item("sq", SQUARE, None, ("sq",), "test"), 64)
    assert r.lines.shape == (64, 64) and r.lines.min() == 0 and r.lines[32, 32] == 255
