"""A CPU low-precision variant: INT8 static quantization (QDQ) with ONNX Runtime's quantizer.

Calibrated on benchmark sketches encoded exactly as the gateway encodes them; the report gives its
speed next to FP32 (same run, interleaved) and its quality cost on held-out sample inputs.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from bench import workload
from colorizer import contract, encoding, imaging


def gateway_feeds(size: int, canvas: int, seeds: Sequence[int]) -> list[dict[str, np.ndarray]]:
    """Batch-1 model inputs built from synthetic sketches by the gateway's own preprocessing."""
    limits = imaging.InputLimits()
    out = []
    for seed in seeds:
        s = workload.sample(size, size, seed=seed)
        fitted, place = imaging.fit_sketch(imaging.decode_sketch(s.png, limits), canvas)
        hint, _ = imaging.build_hint_map(place, s.points, s.strokes, None, limits)
        out.append(
            {contract.SKETCH.name: encoding.encode_sketch(fitted)[None], contract.HINT.name: hint[None]}
        )
    return out


class _Reader:
    """The CalibrationDataReader protocol over a list of feeds."""

    def __init__(self, feeds: list[dict[str, np.ndarray]]) -> None:
        self._it: Iterator[dict[str, np.ndarray]] = iter(feeds)

    def get_next(self) -> dict[str, np.ndarray] | None:
        return next(self._it, None)


def quantize_int8(model: Path, out: Path, calibration: list[dict[str, np.ndarray]]) -> Path:
    """Static INT8 QDQ (per-channel weights, uint8 activations) of ``model`` into ``out``."""
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    out.parent.mkdir(parents=True, exist_ok=True)
    prepared = out.with_suffix(".pre.onnx")
    quant_pre_process(str(model), str(prepared), skip_symbolic_shape=True)
    quantize_static(
        str(prepared),
        str(out),
        _Reader(calibration),  # type: ignore[arg-type]
        quant_format=QuantFormat.QDQ,
        per_channel=True,
        activation_type=QuantType.QUInt8,
        weight_type=QuantType.QInt8,
        calibrate_method=CalibrationMethod.MinMax,
        op_types_to_quantize=["Conv"],
    )
    prepared.unlink(missing_ok=True)
    return out


@dataclass(frozen=True)
class QualityDiff:
    """How far the variant's ``color`` is from FP32's, in 8-bit levels (0..255)."""

    max_abs: float
    mean_abs: float
    #: Share of output pixels (per channel) that differ by more than 8 levels.
    over_8_levels: float

    def as_dict(self) -> dict[str, float]:
        """JSON-ready form."""
        return asdict(self)


def compare_outputs(reference: Any, variant: Any, feeds: list[dict[str, np.ndarray]]) -> QualityDiff:
    """Run both sessions on ``feeds`` and compare their outputs in 8-bit levels."""
    diffs = []
    for f in feeds:
        (a,) = reference.run([contract.COLOR.name], f)
        (b,) = variant.run([contract.COLOR.name], f)
        diffs.append(np.abs(np.clip(a, 0, 1) - np.clip(b, 0, 1)).ravel() * 255.0)
    d = np.concatenate(diffs)
    return QualityDiff(float(d.max()), float(d.mean()), float((d > 8).mean()))
