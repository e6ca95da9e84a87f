"""ONNX export: checker, tensor names from the contract, parity, dynamic sizes, determinism."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import onnx
import pytest

from colorizer import contract
from colorizer.checkpoint import load_generator
from colorizer.cli import main
from export import onnx_export as ox
from export.pipeline import ExportReport, export_checkpoint
from export.repository import BatchingPolicy

SIZE = 64  # the size tiny_export was checked at (conftest)


def test_onnx_passes_full_checker(tiny_export: ExportReport) -> None:
    onnx.checker.check_model(str(tiny_export.onnx_path), full_check=True)


def test_graph_names_and_shapes_follow_contract(tiny_export: ExportReport) -> None:
    model = onnx.load(str(tiny_export.onnx_path))
    assert [i.name for i in model.graph.input] == [t.name for t in contract.INPUTS]
    assert [o.name for o in model.graph.output] == [t.name for t in contract.OUTPUTS]
    assert model.opset_import[0].version == ox.OPSET
    for value, spec in zip([*model.graph.input, *model.graph.output], [*contract.INPUTS, *contract.OUTPUTS],
                           strict=True):
        dims = value.type.tensor_type.shape.dim
        assert value.type.tensor_type.elem_type == onnx.TensorProto.FLOAT
        assert dims[0].dim_param, "batch axis must be dynamic"
        assert dims[1].dim_value == spec.channels
        assert dims[2].dim_param and dims[3].dim_param, "height and width must be dynamic"


def test_provenance_in_metadata(tiny_export: ExportReport, tiny_checkpoint: Path) -> None:
    meta = ox.read_metadata(tiny_export.onnx_path)
    assert meta["colorizer.preset"] == "tiny"
    assert meta["colorizer.step"] == "7"
    assert meta["colorizer.precision"] == "fp32"
    assert ox.sha256_file(tiny_checkpoint).startswith(meta["colorizer.checkpoint_sha256"])


def test_parity_at_batch_1_3_8(tiny_export: ExportReport) -> None:
    errors = tiny_export.parity.max_abs_error
    assert sorted(errors) == [1, 3, 8]
    assert all(0.0 <= e < 1e-4 for e in errors.values()), errors


@pytest.mark.parametrize(("height", "width"), [(48, 80), (128, 32)])
def test_dynamic_height_and_width(tiny_export: ExportReport, tiny_checkpoint: Path,
                                  height: int, width: int) -> None:
    generator, _ = load_generator(tiny_checkpoint)
    result = ox.check_parity(generator, tiny_export.onnx_path, batch_sizes=(2,), height=height, width=width)
    assert result.worst < 1e-4


def test_parity_detects_a_different_model(tiny_export: ExportReport, tmp_path: Path,
                                          checkpoint_factory: Callable[..., Path]) -> None:
    other, _ = load_generator(checkpoint_factory(tmp_path / "other.pt", seed=1))
    with pytest.raises(ox.ParityError, match="differs from PyTorch"):
        ox.check_parity(other, tiny_export.onnx_path, batch_sizes=(1,), height=SIZE, width=SIZE)


def test_invalid_size_is_rejected(tiny_export: ExportReport, tiny_checkpoint: Path) -> None:
    generator, _ = load_generator(tiny_checkpoint)
    with pytest.raises(ValueError, match=f"multiples of {contract.STRIDE}"):
        ox.check_parity(generator, tiny_export.onnx_path, batch_sizes=(1,), height=60, width=64)


def test_missing_checkpoint_is_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(FileNotFoundError, match="checkpoint not found"):
        export_checkpoint(tmp_path / "nope.pt", tmp_path / "repo")
    assert main(["export", "--checkpoint", str(tmp_path / "nope.pt"), "--repository", str(tmp_path)]) == 2
    assert "checkpoint not found" in capsys.readouterr().out
    assert not (tmp_path / "colorizer").exists()


@pytest.mark.slow
def test_same_checkpoint_gives_same_bytes(tiny_export: ExportReport, tiny_checkpoint: Path,
                                          tmp_path: Path) -> None:
    again = export_checkpoint(tiny_checkpoint, tmp_path, policy=BatchingPolicy(max_batch_size=8),
                              parity_batches=(1,), parity_size=SIZE)
    assert again.sha256 == tiny_export.sha256
    assert again.config_path.read_bytes() == tiny_export.config_path.read_bytes()
    assert np.isfinite(again.parity.worst)
