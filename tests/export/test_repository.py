"""config.pbtxt: parsed by Triton's ModelConfig schema and consistent with the ONNX graph."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import onnx
import pytest
from google.protobuf import text_format
from tritonclient.grpc import model_config_pb2 as mc

from colorizer import contract
from export import repository as repo
from export.pipeline import ExportReport
from export.twin import make_cpu_twin

MAX_BATCH = 8  # max_batch_size tiny_export was written with (conftest)

COMMITTED = Path(__file__).resolve().parents[2] / "model_repository"
_ONNX_TO_TRITON = {onnx.TensorProto.FLOAT: mc.TYPE_FP32, onnx.TensorProto.FLOAT16: mc.TYPE_FP16}


def assert_config_matches_graph(cfg: Any, model: onnx.ModelProto) -> None:
    """Names, dims (batch excluded), data types and batching of ``cfg`` agree with the graph."""
    assert cfg.name == contract.MODEL_NAME
    assert cfg.max_batch_size >= 1
    for entries, values in ((cfg.input, model.graph.input), (cfg.output, model.graph.output)):
        assert [e.name for e in entries] == [v.name for v in values]
        for entry, value in zip(entries, values, strict=True):
            ttype = value.type.tensor_type
            assert entry.data_type == _ONNX_TO_TRITON[ttype.elem_type]
            dims = ttype.shape.dim
            assert dims[0].dim_param, f"{value.name}: batch axis must be dynamic for max_batch_size > 0"
            graph_dims = [d.dim_value if d.HasField("dim_value") else -1 for d in dims[1:]]
            assert list(entry.dims) == graph_dims, f"{value.name}: {list(entry.dims)} vs graph {graph_dims}"


def test_config_parses_and_matches_graph(tiny_export: ExportReport) -> None:
    cfg = repo.read_config(tiny_export.config_path)
    assert_config_matches_graph(cfg, onnx.load(str(tiny_export.onnx_path)))
    assert cfg.backend == "onnxruntime"
    assert cfg.max_batch_size == MAX_BATCH


def test_config_batching_warmup_and_tensorrt(tiny_export: ExportReport) -> None:
    cfg = repo.read_config(tiny_export.config_path)
    db = cfg.dynamic_batching
    assert list(db.preferred_batch_size) == [4, MAX_BATCH]
    assert db.max_queue_delay_microseconds > 0
    assert db.default_queue_policy.max_queue_size > 0
    assert db.default_queue_policy.timeout_action == mc.ModelQueuePolicy.REJECT
    assert [w.batch_size for w in cfg.model_warmup] == [1, MAX_BATCH]
    for warm in cfg.model_warmup:
        assert set(warm.inputs) == {t.name for t in contract.INPUTS}
    assert len(cfg.instance_group) == 1
    (trt,) = cfg.optimization.execution_accelerators.gpu_execution_accelerator
    assert trt.name == "tensorrt"
    assert trt.parameters["precision_mode"] == "FP16"
    assert trt.parameters["trt_engine_cache_enable"] == "1"
    assert trt.parameters["trt_engine_cache_path"] == repo.ENGINE_CACHE_PATH


def test_committed_repository_is_consistent() -> None:
    cfg = repo.read_config(repo.config_path(COMMITTED))
    model = onnx.load(str(repo.onnx_path(COMMITTED)))
    assert_config_matches_graph(cfg, model)
    assert cfg.backend == "onnxruntime"
    meta = {p.key: p.value for p in model.metadata_props}
    assert {"colorizer.checkpoint_sha256", "colorizer.preset", "colorizer.step"} <= set(meta)


def test_committed_onnx_was_exported_from_the_committed_model() -> None:
    """The served graph, the shipped checkpoint and its card must be updated together."""
    import hashlib

    import torch

    shipped = COMMITTED.parent / "models" / "colorizer-cpu.pt"
    meta = {p.key: p.value for p in onnx.load(str(repo.onnx_path(COMMITTED))).metadata_props}
    assert meta["colorizer.checkpoint_sha256"] == hashlib.sha256(shipped.read_bytes()).hexdigest()[:16]
    step = torch.load(shipped, map_location="cpu", weights_only=False)["step"]
    assert meta["colorizer.step"] == str(step)
    card = (COMMITTED.parent / "models" / "MODEL_CARD.md").read_text()
    assert f"**{step}**" in card, "models/MODEL_CARD.md does not state the shipped step"


def test_unknown_config_field_is_rejected(tmp_path: Path) -> None:
    path = tmp_path / "config.pbtxt"
    path.write_text('name: "colorizer"\nmax_batch_sizes: 4\n')
    with pytest.raises(text_format.ParseError, match="max_batch_sizes"):
        repo.read_config(path)
    with pytest.raises(FileNotFoundError, match="no Triton config"):
        repo.read_config(tmp_path / "missing.pbtxt")


@pytest.mark.parametrize("kwargs", [{"max_batch_size": 0}, {"max_queue_size": 0}, {"max_queue_delay_us": -1}])
def test_bad_batching_policy(kwargs: dict[str, int]) -> None:
    with pytest.raises(ValueError):
        repo.BatchingPolicy(**kwargs)


def test_cpu_twin_keeps_the_interface(tiny_export: ExportReport, tmp_path: Path) -> None:
    production = repo.read_config(tiny_export.config_path)
    make_cpu_twin(tiny_export.onnx_path.parents[2], tmp_path)
    twin = repo.read_config(repo.config_path(tmp_path))
    assert twin.backend == "python"
    assert (repo.model_dir(tmp_path) / repo.VERSION / "model.py").is_file()
    assert repo.onnx_path(tmp_path).read_bytes() == tiny_export.onnx_path.read_bytes()
    for field in ("name", "max_batch_size", "input", "output", "dynamic_batching", "model_warmup"):
        assert getattr(twin, field) == getattr(production, field), field
    assert not twin.HasField("optimization")
    assert [g.kind for g in twin.instance_group] == [mc.ModelInstanceGroup.KIND_CPU]
    with pytest.raises(ValueError, match="already a python-backend"):
        make_cpu_twin(tmp_path, tmp_path / "again")
