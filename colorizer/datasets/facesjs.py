"""facesjs: cartoon faces assembled from human-drawn SVG parts, with line art from the same vectors.

facesjs (npm ``facesjs``, Apache-2.0) picks a head, eyes, nose, hair, jersey... from a few hundred
hand-drawn SVG parts and places them with Math.random. ``facesjs_render.mjs`` runs it under node
with Math.random replaced by a seeded PRNG, so seed N is the same face everywhere, and draws each
face twice from the same placement: once with the package's own parts (the colors) and once with
*line versions* of those parts. Line art is therefore made from the SVG, never by image processing:

- ink: opaque near-black paint of the parts themselves, i.e. the black outline strokes, and the
  shapes facesjs draws as solid black fills (pupils, black eyebrows and mustaches, mouths' dark
  insides, #333 glasses frames, and the black rims drawn under a colored shape);
- paper (white): every other opaque fill or stroke (skin, hair, team colors, eye whites), so what a
  later part covers in the colored face (the head outline under the hair, ears behind the head)
  stays covered in the sketch. With every fill simply removed those lines would all show through;
- nothing: translucent paint (stubble, blush, freckles, shading gradients, glass lenses).

The colored face has no background shape: its transparent area is the paper.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from colorizer.datasets import fetch
from colorizer.datasets.base import Item, Rendered

SPEC = "facesjs@5.0.3"
SCRIPT = Path(__file__).with_name("facesjs_render.mjs")

#: Fewer ink pixels than this fraction of the canvas: the line art is (nearly) empty.
MIN_INK = 0.005
#: Fewer colored (opaque) pixels than this fraction: the colors are (nearly) empty.
MIN_COLOR = 0.05
#: More ink than this fraction of it outside the colored drawing: the two renderings disagree.
MAX_INK_OFF_COLOR = 0.02

HOW = (
    "A facesjs face from a seeded PRNG; its line art is the same face drawn from the parts' own "
    "black strokes and black shapes, other opaque paint turned to paper."
)


class FacesjsError(RuntimeError):
    """node is missing or the render script failed."""


@dataclass(frozen=True)
class Face:
    """One generated face as the render script prints it."""

    seed: int
    gender: str
    race: str
    color_svg: bytes
    line_svg: bytes


def generate_faces(prefix: Path, first: int, count: int) -> Iterator[Face]:
    """Faces for seeds ``first .. first+count-1`` from one node process (~3 ms a face).

    One process for the whole range: starting node costs far more than a face. Lines are read as
    they come, so memory stays flat however many faces are asked for; stopping the iteration early
    stops node.
    """
    if first < 0 or count < 0:
        raise ValueError(f"seeds must be >= 0, got first={first} count={count}")
    if count == 0:
        return
    node = shutil.which("node")
    if node is None:
        raise FacesjsError("node is not installed (the facesjs source runs facesjs under node >= 18)")
    cmd = [node, str(SCRIPT), str(Path(prefix).resolve()), str(first), str(count)]
    with tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=err)
        assert proc.stdout is not None
        finished = False
        seen = 0
        try:
            for raw in proc.stdout:
                face = json.loads(raw)
                yield Face(
                    seed=int(face["seed"]),
                    gender=str(face["gender"]),
                    race=str(face["race"]),
                    color_svg=str(face["color_svg"]).encode(),
                    line_svg=str(face["line_svg"]).encode(),
                )
                seen += 1
            finished = True
        finally:
            if not finished and proc.poll() is None:
                proc.kill()
            proc.stdout.close()
            code = proc.wait()
        err.seek(0)
        message = err.read().decode(errors="replace").strip()[-500:]
    if code != 0 or seen != count:
        raise FacesjsError(f"{' '.join(cmd)} exited {code} after {seen}/{count} faces: {message}")


class FacesjsSource:
    """``count`` seeded facesjs faces (seeds 0..count-1), each its own drawing."""

    name = "facesjs"
    package = f"npm {SPEC}"
    version = "5.0.3"
    license = "Apache-2.0"
    attribution = "facesjs by Jeremy Scheff / zengm-games (github.com/zengm-games/facesjs), Apache-2.0"
    homepage = "https://zengm.com/facesjs/"

    def __init__(self, count: int = 1000) -> None:
        if count < 0:
            raise ValueError(f"count must be >= 0, got {count}")
        self.count = count

    @property
    def recipe(self) -> dict[str, int]:
        """What decides the prepared set besides the package: how many faces (see prepare)."""
        return {"count": self.count}

    def fetch(self, cache: Path) -> Path:
        """``npm install facesjs`` (it is an ES module with dependencies); returns the prefix."""
        return fetch.npm_install(SPEC, cache)

    def items(self, root: Path) -> Iterator[Item]:
        """One item per seed: every face is a distinct drawing, so its key is its seed."""
        for face in generate_faces(root, 0, self.count):
            yield Item(
                name=f"face-{face.seed:05d}",
                color_svg=face.color_svg,
                line_svg=face.line_svg,
                keys=(f"facesjs-{face.seed}",),
                how=HOW,
                meta={"seed": str(face.seed), "gender": face.gender, "race": face.race},
            )

    def drop_reason(self, item: Item, rendered: Rendered) -> str | None:
        """Sanity checks only: facesjs faces are all drawable, so a drop means something broke."""
        ink = rendered.lines < 128
        opaque = rendered.color[..., 3] >= 128
        if ink.mean() < MIN_INK:
            return "no-ink"
        if opaque.mean() < MIN_COLOR:
            return "no-color"
        # The lines are the colored face's own strokes: ink off the colored face is a mismatch.
        if float(np.mean(~opaque[ink])) > MAX_INK_OFF_COLOR:
            return "ink-off-color"
        return None


SOURCE = FacesjsSource()
