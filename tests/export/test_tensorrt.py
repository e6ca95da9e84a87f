"""The tensorrt_plan route, the parts that need no GPU: profile shapes and the plan's config."""

from __future__ import annotations

from pathlib import Path

import pytest
from tritonclient.grpc import model_config_pb2 as mc

from colorizer import contract
from export import repository as repo
from export import tensorrt


def test_profile_covers_batch_range_at_served_size() -> None:
    shapes = tensorrt.profile_shapes(16, 256, 192)
    assert set(shapes) == {t.name for t in contract.INPUTS}
    assert shapes["sketch"] == ((1, 1, 256, 192), (16, 1, 256, 192), (16, 1, 256, 192))
    assert shapes["hint"] == ((1, 4, 64, 48), (16, 4, 64, 48), (16, 4, 64, 48))
    assert tensorrt.profile_shapes(8, 64, 64, opt_batch=4)["sketch"][1][0] == 4


BAD_PROFILES = [
    ((0, 256, 256), "max_batch_size"),
    ((8, 250, 256), "multiples"),
    ((8, 256, 256, 9), "opt_batch"),
]


@pytest.mark.parametrize(("args", "message"), BAD_PROFILES)
def test_profile_rejects_bad_arguments(args: tuple[int, ...], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        tensorrt.profile_shapes(*args)


def test_plan_config(tmp_path: Path) -> None:
    cfg = tensorrt.plan_config(repo.BatchingPolicy(max_batch_size=16), 256, 128)
    path = repo.write_config(cfg, tmp_path / "config.pbtxt")
    parsed = repo.read_config(path)
    assert parsed.platform == "tensorrt_plan"
    assert parsed.default_model_filename == tensorrt.PLAN_FILENAME
    assert parsed.max_batch_size == 16
    dims = {t.name: list(t.dims) for t in (*parsed.input, *parsed.output)}
    assert dims == {"sketch": [1, 256, 128], "hint": [4, 64, 32], "color": [3, 256, 128]}
    assert [g.kind for g in parsed.instance_group] == [mc.ModelInstanceGroup.KIND_GPU]
    assert [w.batch_size for w in parsed.model_warmup] == [1, 16]
    assert list(parsed.model_warmup[0].inputs["hint"].dims) == [4, 64, 32]
    assert not parsed.optimization.execution_accelerators.gpu_execution_accelerator
