"""Compute cost of an ONNX model counted from its graph (no torch needed): convolution FLOPs.

Convolutions are where the colorizer spends its arithmetic; the element-wise gates, pooling and
resizes are memory-bound and counted separately as output elements, not as FLOPs.
"""

from __future__ import annotations

from pathlib import Path

from colorizer import contract


def conv_gflops_onnx(path: Path, height: int, width: int) -> float:
    """GFLOP (2 x multiply-adds) of every Conv/ConvTranspose for one ``height`` x ``width`` image."""
    import onnx
    from onnx import numpy_helper, shape_inference

    model = onnx.load(str(path))
    # Pin the symbolic input dims so shape inference gives every Conv output a concrete size.
    for inp in model.graph.input:
        spec = next((s for s in contract.INPUTS if s.name == inp.name), None)
        if spec is None:
            continue
        dims = (1, spec.channels, height // spec.scale_down, width // spec.scale_down)
        for dim, value in zip(inp.type.tensor_type.shape.dim, dims, strict=True):
            dim.ClearField("dim_param")
            dim.dim_value = value
    inferred = shape_inference.infer_shapes(model, data_prop=True)
    shapes: dict[str, list[int]] = {}
    for info in [*inferred.graph.value_info, *inferred.graph.output, *inferred.graph.input]:
        shapes[info.name] = [d.dim_value for d in info.type.tensor_type.shape.dim]
    weights = {init.name: list(numpy_helper.to_array(init).shape) for init in model.graph.initializer}
    total = 0
    for node in inferred.graph.node:
        if node.op_type not in ("Conv", "ConvTranspose"):
            continue
        w = weights.get(node.input[1])
        out = shapes.get(node.output[0])
        if w is None or not out or 0 in out:
            raise ValueError(f"cannot size {node.op_type} {node.name!r} in {path}")
        if node.op_type == "Conv":
            # weight [Cout, Cin/groups, kh, kw]: each output element costs Cin/groups*kh*kw MACs.
            macs_per_out = w[1] * w[2] * w[3]
            total += 2 * macs_per_out * _prod(out)
        else:
            inp = shapes[node.input[0]]
            # weight [Cin, Cout/groups, kh, kw]: each input element is scattered to Cout/g*kh*kw.
            total += 2 * w[1] * w[2] * w[3] * _prod(inp)
    return total / 1e9


def _prod(dims: list[int]) -> int:
    out = 1
    for d in dims:
        out *= d
    return out
