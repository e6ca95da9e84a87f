"""Contact sheet of one real line-art page at full size: the gateway's paths side by side.

Columns: the sketch with its hints, the plain resize of the model's canvas (the gateway before the
line-guided upscale), the guided upscale (the default now), and the flat fill. The top row is the
whole page reduced to fit; the bottom row is a crop at full resolution (1:1 pixels), where the
smear of the resize and the edges of the guided path show.

    python scripts/studio_sheet.py --data-root data/real2048 --source facesjs --size 2048 \
        --out docs/images/studio_2048_sheet.png

(`colorizer data --all --size 2048 --out data/real2048 --only-split test --limit 24` renders the
held-out drawings at 2048 px.)
"""

from __future__ import annotations

import argparse
from pathlib import Path

import cv2
import numpy as np

from colorizer.eval.real import load_manifest, real_case, split_pairs
from colorizer.eval.systems import CanvasSystem, FlatFillSystem, OnnxSystem

PANEL = 480
CROP = 480


def _label(img: np.ndarray, text: str) -> np.ndarray:
    out = np.full((img.shape[0] + 28, img.shape[1], 3), 255, np.uint8)
    out[28:] = img
    cv2.putText(out, text, (6, 20), cv2.FONT_HERSHEY_SIMPLEX, 0.55, (0, 0, 0), 1, cv2.LINE_AA)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-root", type=Path, default=Path("data/real2048"))
    parser.add_argument("--source", default="facesjs")
    parser.add_argument("--index", type=int, default=0, help="which test pair of the source")
    parser.add_argument("--size", type=int, default=2048)
    parser.add_argument("--canvas", type=int, default=256)
    parser.add_argument("--hints", type=int, default=16)
    parser.add_argument("--onnx", type=Path, default=Path("model_repository/colorizer/1/model.onnx"))
    parser.add_argument("--out", type=Path, default=Path("docs/images/studio_2048_sheet.png"))
    args = parser.parse_args()

    folder = args.data_root / args.source
    pair = split_pairs(load_manifest(folder))[args.index]
    case = real_case(folder, str(pair["name"]), args.size, source=args.source)
    hint = case.hint_map(args.hints)
    model = OnnxSystem(args.onnx, "model", threads=2)
    resized = CanvasSystem(model, args.canvas, guided=False)
    guided = CanvasSystem(model, args.canvas, guided=True)
    flat = FlatFillSystem(guided)
    sketch = cv2.cvtColor(case.sketch, cv2.COLOR_GRAY2RGB)
    for h in case.hints[: args.hints]:
        center = (h.col * 4 + 2, h.row * 4 + 2)  # the hint cell's center, in sketch pixels
        cv2.circle(sketch, center, max(6, args.size // 128), tuple(int(v) for v in h.rgb), -1)
    panels = {
        "sketch + hints": sketch,
        f"resize of the {args.canvas} canvas": resized.colorize(case.sketch, hint),
        "line-guided (default)": guided.colorize(case.sketch, hint),
        "flat fill": flat.colorize(case.sketch, hint),
        "truth": case.truth,
    }
    # The crop: the window of the page with the most line pixels (edges to look at).
    ink = (case.sketch < 128).astype(np.float32)
    density = cv2.boxFilter(ink, -1, (CROP, CROP), normalize=False)
    half = CROP // 2
    inner = density[half : args.size - half, half : args.size - half]
    cy, cx = np.unravel_index(int(np.argmax(inner)), inner.shape)
    y0, x0 = int(cy), int(cx)
    top = [_label(cv2.resize(p, (PANEL, PANEL), interpolation=cv2.INTER_AREA), n) for n, p in panels.items()]
    bottom = [
        _label(np.ascontiguousarray(p[y0 : y0 + CROP, x0 : x0 + CROP]), f"{n}, 1:1")
        for n, p in panels.items()
    ]
    sheet = np.vstack([np.hstack(top), np.hstack(bottom)])
    args.out.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(args.out), cv2.cvtColor(sheet, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_PNG_COMPRESSION, 9])
    print(f"{args.out}: {case.name}, crop at ({x0}, {y0})")


if __name__ == "__main__":
    main()
