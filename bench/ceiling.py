"""The compute ceiling of these cores through ONNX Runtime: large fp32 convolution and matmul graphs.

The model's achieved GFLOP/s is compared with this, measured in the same run, same runtime, same
thread settings, so the ratio says how much of the hardware the model's graph actually uses.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True)
class CeilingResult:
    """GFLOP/s of one synthetic graph."""

    name: str
    gflop: float
    seconds: float

    @property
    def gflops(self) -> float:
        """Achieved GFLOP per second."""
        return self.gflop / self.seconds


def _conv_model(channels: int, size: int, batch: int) -> tuple[bytes, dict[str, np.ndarray], float]:
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(0)
    w = numpy_helper.from_array(
        (rng.standard_normal((channels, channels, 3, 3)) * 0.05).astype(np.float32), "w"
    )
    node = helper.make_node("Conv", ["x", "w"], ["y"], pads=[1, 1, 1, 1])
    graph = helper.make_graph(
        [node],
        "ceiling_conv",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [batch, channels, size, size])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [batch, channels, size, size])],
        [w],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    feeds = {"x": rng.standard_normal((batch, channels, size, size)).astype(np.float32)}
    gflop = 2 * channels * channels * 9 * size * size * batch / 1e9
    return model.SerializeToString(), feeds, gflop


def _matmul_model(n: int) -> tuple[bytes, dict[str, np.ndarray], float]:
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(0)
    b = numpy_helper.from_array(rng.standard_normal((n, n)).astype(np.float32), "b")
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["a", "b"], ["y"])],
        "ceiling_matmul",
        [helper.make_tensor_value_info("a", TensorProto.FLOAT, [n, n])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [n, n])],
        [b],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    return model.SerializeToString(), {"a": rng.standard_normal((n, n)).astype(np.float32)}, 2 * n**3 / 1e9


def ceiling_cases(
    make_options: Callable[[], Any], *, quick: bool = False
) -> list[tuple[str, Callable[[], object], float]]:
    """(name, one-run call, GFLOP per run) of a 3x3 conv (128 channels) and a square matmul.

    The calls are timed by the caller, interleaved with the model's own runs.
    """
    import onnxruntime as ort

    models = (
        [("conv3x3 64ch 32x32 b1", _conv_model(64, 32, 1)), ("matmul 256", _matmul_model(256))]
        if quick
        else [("conv3x3 128ch 64x64 b4", _conv_model(128, 64, 4)), ("matmul 2048", _matmul_model(2048))]
    )
    cases = []
    for name, (blob, feeds, gflop) in models:
        session = ort.InferenceSession(blob, make_options(), providers=["CPUExecutionProvider"])
        cases.append((name, _bind(session, feeds), gflop))
    return cases


def _bind(session: Any, feeds: dict[str, np.ndarray]) -> Callable[[], object]:
    return lambda: session.run(None, feeds)
