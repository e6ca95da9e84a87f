"""Fixtures for the benchmark tests: a tiny model repository built directly with onnx.helper.

The benchmark measures any model with the contract's tensors; a hand-built graph (hint upsampled,
concatenated with the sketch, two convolutions, a sigmoid) takes milliseconds to make, where
exporting even the ``tiny`` generator through torch takes a minute on 2 cores.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

#: Canvas side the benchmark tests serve (small: fast on 2 cores).
BENCH_TEST_SIZE = 64


def tiny_model_bytes() -> bytes:
    """A valid colorizer-contract ONNX model: sketch [N,1,H,W], hint [N,4,H/4,W/4] -> color."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    from colorizer import contract

    rng = np.random.default_rng(0)
    w1 = numpy_helper.from_array((rng.standard_normal((8, 5, 3, 3)) * 0.3).astype(np.float32), "w1")
    w2 = numpy_helper.from_array((rng.standard_normal((3, 8, 3, 3)) * 0.3).astype(np.float32), "w2")
    scales = numpy_helper.from_array(np.array([1, 1, 4, 4], np.float32), "scales")
    nodes = [
        helper.make_node("Resize", ["hint", "", "scales"], ["hint_up"], mode="nearest"),
        helper.make_node("Concat", ["sketch", "hint_up"], ["x"], axis=1),
        helper.make_node("Conv", ["x", "w1"], ["h"], pads=[1, 1, 1, 1]),
        helper.make_node("LeakyRelu", ["h"], ["a"], alpha=0.2),
        helper.make_node("Conv", ["a", "w2"], ["y"], pads=[1, 1, 1, 1]),
        helper.make_node("Sigmoid", ["y"], ["color"]),
    ]

    def info(spec: contract.TensorSpec) -> onnx.ValueInfoProto:
        return helper.make_tensor_value_info(
            spec.name, TensorProto.FLOAT, ["batch", spec.channels, None, None]
        )

    graph = helper.make_graph(
        nodes,
        "tiny_colorizer",
        [info(contract.SKETCH), info(contract.HINT)],
        [info(contract.COLOR)],
        [w1, w2, scales],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 9
    onnx.checker.check_model(model)
    return model.SerializeToString()


@pytest.fixture(scope="session")
def tiny_repository(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A Triton-layout repository with the tiny graph as colorizer/1/model.onnx + config.pbtxt."""
    from export import repository

    root = tmp_path_factory.mktemp("bench_repository")
    path = repository.onnx_path(root)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(tiny_model_bytes())
    policy = repository.BatchingPolicy(max_batch_size=8, max_queue_delay_us=2000)
    repository.write_config(
        repository.onnx_config(policy, warmup_size=BENCH_TEST_SIZE), repository.config_path(root)
    )
    return root
