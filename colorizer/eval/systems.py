"""The systems the evaluation compares: anything that turns (sketch, hint map) into an RGB image.

* :class:`OnnxSystem`: the served ONNX model, through ONNX Runtime (what the gateway runs);
* :class:`TorchSystem`: a training checkpoint (the SGRU generator, or the plain U-Net when the
  checkpoint says ``"arch": "plain_unet"``);
* :class:`FloodFillSystem`: the classical baseline, no learning;
* :class:`NoHintsSystem`: another system given an empty hint map;
* :class:`SpreadHintsSystem`: another system given its hints spread over their closed regions;
* :class:`KeepPaperSystem`: another system with the unhinted page around the figure made white;
* :class:`CanvasSystem`: another system run the gateway's way on a sketch larger than its canvas
  (fitted to the canvas, colors brought back by a resize or the line-guided upsampler).

torch and onnxruntime are imported inside the constructors that need them.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from pathlib import Path
from typing import Any, Protocol

import cv2
import numpy as np

from colorizer import contract
from colorizer.encoding import F32, U8, decode_color, empty_hint, encode_sketch
from colorizer.eval.cases import LINE_THRESHOLD


class System(Protocol):
    """A colorizer under evaluation."""

    #: Column title in tables and on the contact sheet.
    name: str
    #: False when the output does not depend on the hints (computed once per case).
    uses_hints: bool

    def colorize(self, sketch: U8, hint: F32) -> U8:
        """Gray sketch [H, W] uint8 and ``hint`` tensor [4, H/4, W/4] -> RGB uint8 [H, W, 3]."""
        ...


class _Memo:
    """The last few outputs of a model by input, so that a wrapper (the flat fill) running the same
    (sketch, hint) again after the model itself does not pay for a second inference."""

    size = 16

    def __init__(self) -> None:
        self._outputs: OrderedDict[bytes, U8] = OrderedDict()

    @staticmethod
    def key(sketch: U8, hint: F32) -> bytes:
        h = hashlib.blake2b(digest_size=16)
        h.update(repr((sketch.shape, hint.shape)).encode())
        h.update(np.ascontiguousarray(sketch).tobytes())
        h.update(np.ascontiguousarray(hint).tobytes())
        return h.digest()

    def get(self, key: bytes) -> U8 | None:
        out = self._outputs.get(key)
        if out is None:
            return None
        self._outputs.move_to_end(key)
        return out.copy()

    def put(self, key: bytes, out: U8) -> U8:
        self._outputs[key] = out.copy()
        while len(self._outputs) > self.size:
            self._outputs.popitem(last=False)
        return out


class OnnxSystem:
    """An exported ONNX model run by ONNX Runtime on the CPU, tensor names from the contract."""

    uses_hints = True

    def __init__(self, path: str | Path, name: str | None = None, threads: int = 1) -> None:
        import onnxruntime as ort

        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
        self.session = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
        #: Provenance the export stage writes into the file (preset, step, checkpoint hash), if any.
        self.metadata: dict[str, str] = dict(self.session.get_modelmeta().custom_metadata_map)
        step = self.metadata.get("colorizer.step")
        self.name = name or ("ONNX" + (f" step {step}" if step is not None else ""))

        self._memo = _Memo()

    def colorize(self, sketch: U8, hint: F32) -> U8:
        key = self._memo.key(sketch, hint)
        done = self._memo.get(key)
        if done is not None:
            return done
        feeds = {contract.SKETCH.name: encode_sketch(sketch)[None], contract.HINT.name: hint[None]}
        (color,) = self.session.run([contract.COLOR.name], feeds)
        return self._memo.put(key, decode_color(np.asarray(color[0], dtype=np.float32)))


def load_torch_model(path: str | Path) -> tuple[Any, dict[str, Any]]:
    """The model of a checkpoint in eval mode (generator or plain U-Net), and the checkpoint dict."""
    from colorizer import checkpoint

    return checkpoint.load_generator(path)


class TorchSystem:
    """A checkpoint run by PyTorch on the CPU."""

    uses_hints = True

    def __init__(self, path: str | Path, name: str | None = None, threads: int = 1) -> None:
        import torch

        torch.set_num_threads(threads)
        self.model, ckpt = load_torch_model(path)
        arch = ckpt.get("arch", "sgru")
        self.name = name or f"{arch} {ckpt.get('preset', '?')} step {ckpt.get('step', '?')}"
        self.step = ckpt.get("step")
        self._memo = _Memo()

    def colorize(self, sketch: U8, hint: F32) -> U8:
        import torch

        key = self._memo.key(sketch, hint)
        done = self._memo.get(key)
        if done is not None:
            return done
        with torch.inference_mode():
            out = self.model(torch.from_numpy(encode_sketch(sketch)[None]), torch.from_numpy(hint[None]))
        return self._memo.put(key, decode_color(out[0].numpy()))


class NoHintsSystem:
    """Another system, always given an empty hint map: what the model does unaided."""

    uses_hints = False

    def __init__(self, inner: System, name: str | None = None) -> None:
        self.inner = inner
        self.name = name or f"{inner.name}, no hints"

    def colorize(self, sketch: U8, hint: F32) -> U8:
        return self.inner.colorize(sketch, empty_hint(*sketch.shape))


class FlatFillSystem:
    """Another system's output with flat fills (:func:`colorizer.imaging.flatten.flatten_regions`):
    what the gateway returns with ``output.flat_fill``."""

    uses_hints = True

    def __init__(self, inner: System, name: str | None = None, gap: int = 15) -> None:
        self.inner = inner
        self.gap = gap
        self.name = name or f"{inner.name} + flat fill" + (f" (gap {gap})" if gap != 15 else "")

    def colorize(self, sketch: U8, hint: F32) -> U8:
        from colorizer.imaging.flatten import flatten_regions

        # The hints as a user gave them: one pixel per hint (the cell's paper pixel nearest its
        # center, as the flood fill seeds), not the 4x4 cell that may straddle a line.
        layer = np.zeros((*sketch.shape, 4), np.uint8)
        for y, x, rgb in hint_seeds(sketch, hint):
            layer[y, x] = (*rgb, 255)
        return flatten_regions(self.inner.colorize(sketch, hint), sketch, layer, gap=self.gap)


class SpreadHintsSystem:
    """Another system given its hints spread over their closed regions first
    (:func:`colorizer.imaging.spread.spread_hints`, ``cells`` steps): what the gateway feeds the
    model with ``COLORIZER_HINT_SPREAD_CELLS``."""

    uses_hints = True

    def __init__(self, inner: System, cells: int, name: str | None = None) -> None:
        self.inner = inner
        self.cells = cells
        self.name = name or f"{inner.name}, hints spread {cells}"

    def colorize(self, sketch: U8, hint: F32) -> U8:
        from colorizer.imaging.spread import spread_hints

        return self.inner.colorize(sketch, spread_hints(hint, sketch, self.cells))


class KeepPaperSystem:
    """Another system whose output keeps the page white: the unhinted regions reaching the canvas
    border made paper after it ran (:func:`colorizer.imaging.paper.keep_paper`, read from the
    hints as given, before any spreading the inner system does): what the gateway returns with
    ``COLORIZER_KEEP_PAPER``."""

    uses_hints = True

    def __init__(self, inner: System, name: str | None = None) -> None:
        self.inner = inner
        self.name = name or f"{inner.name}, paper kept"

    def colorize(self, sketch: U8, hint: F32) -> U8:
        from colorizer.imaging.paper import keep_paper

        return keep_paper(self.inner.colorize(sketch, hint), sketch, hint)


class CanvasSystem:
    """Another system run as the gateway runs it on a large sketch: the sketch fitted onto a
    ``canvas`` px canvas (:func:`colorizer.imaging.fit_sketch`), the hints re-placed there from
    their original positions (:func:`colorizer.imaging.build_hint_map`, one point per hint cell
    at its center), the colors brought back to the sketch's size by a plain resize (``guided``
    False: the gateway's path before the upsampler) or by
    :func:`colorizer.imaging.upsample.guided_upsample`, and the full-size lines multiplied over
    (both), so the comparison is of the colors only."""

    uses_hints = True

    def __init__(self, inner: System, canvas: int, guided: bool, name: str | None = None) -> None:
        contract.check_size(canvas, canvas)
        self.inner = inner
        self.canvas = canvas
        self.guided = guided
        how = "guided" if guided else "resized"
        self.name = name or f"{inner.name} @{canvas}, {how}"

    def colorize(self, sketch: U8, hint: F32) -> U8:
        from colorizer import imaging
        from colorizer.imaging.upsample import guided_upsample

        fitted, canvas = imaging.fit_sketch(sketch, self.canvas)
        s = contract.HINT_SCALE
        rows, cols = np.nonzero(hint[3] > 0.5)
        points = [
            imaging.PointHint(
                x=(c + 0.5) * s,
                y=(r + 0.5) * s,
                rgb=tuple(int(v) for v in np.clip(hint[:3, r, c] * 255.0 + 0.5, 0, 255)),  # type: ignore[arg-type]
            )
            for r, c in zip(rows.tolist(), cols.tolist(), strict=True)
        ]
        limits = imaging.InputLimits(max_points=max(len(points), 1))
        small_hint, _ = imaging.build_hint_map(canvas, points, (), None, limits)
        colors = self.inner.colorize(fitted, small_hint)
        if self.guided:
            top, left = canvas.top, canvas.left
            content = colors[top : top + canvas.content_h, left : left + canvas.content_w]
            full = guided_upsample(np.ascontiguousarray(content), sketch)
        else:
            full = imaging.restore_size(colors, canvas)
        return imaging.overlay_lines(full, sketch)


def hint_seeds(sketch: U8, hint: F32) -> list[tuple[int, int, U8]]:
    """(y, x, rgb) per hint cell of ``hint``: the cell's paper pixel nearest its center.

    A hint cell sits over a 4x4 block of the sketch; one entirely on a line gives no seed.
    """
    paper = sketch >= LINE_THRESHOLD
    s = contract.HINT_SCALE
    seeds: list[tuple[int, int, U8]] = []
    rows, cols = np.nonzero(hint[3] > 0.5)
    for r, c in zip(rows.tolist(), cols.tolist(), strict=True):
        ys, xs = np.nonzero(paper[r * s : (r + 1) * s, c * s : (c + 1) * s])
        if len(ys) == 0:
            continue
        i = int(np.argmin((ys - 1.5) ** 2 + (xs - 1.5) ** 2))
        rgb = (np.clip(hint[:3, r, c], 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)
        seeds.append((r * s + int(ys[i]), c * s + int(xs[i]), rgb))
    return seeds


class FloodFillSystem:
    """Classical baseline: each hint's color fills the line-bounded region (connected component of
    non-line pixels) it falls in; a region with several hints takes, per pixel, the nearest hint's
    color. Unhinted regions stay white paper and lines stay as drawn. With closed lines this is
    exact on flat regions; through a gap the color leaks into the next region.
    """

    uses_hints = True
    name = "flood fill"

    def colorize(self, sketch: U8, hint: F32) -> U8:
        paper = (sketch >= LINE_THRESHOLD).astype(np.uint8)
        _, comp = cv2.connectedComponents(paper, connectivity=4)
        out = np.repeat(sketch[:, :, None], 3, axis=2)
        by_comp: dict[int, list[tuple[int, int, U8]]] = {}
        for y, x, rgb in hint_seeds(sketch, hint):  # a hint entirely on a line colors nothing
            by_comp.setdefault(int(comp[y, x]), []).append((y, x, rgb))
        for k, items in by_comp.items():
            mask = comp == k
            if len(items) == 1:
                out[mask] = items[0][2]
                continue
            ys, xs = np.nonzero(mask)
            d = [(ys - y) ** 2 + (xs - x) ** 2 for y, x, _ in items]
            nearest = np.argmin(np.stack(d), axis=0)
            out[ys, xs] = np.stack([rgb for _, _, rgb in items])[nearest]
        return out


def sheet_columns(systems: list[System]) -> tuple[list[str], list[str] | None]:
    """The real sets' contact-sheet columns: lines | hints | each model | its flat fill | truth
    (the baselines left out), and their titles: ``result`` and ``flat fill`` for one model, the
    systems' own names (None) for several."""
    shown = [s.name for s in systems if not isinstance(s, FloodFillSystem | NoHintsSystem)]
    return shown, (["result", "flat fill"] if len(shown) == 2 else None)
