"""bf16 autocast in training: chosen by the CPU's flags, and a step that matches fp32's closely."""

from dataclasses import replace
from pathlib import Path

import pytest
import torch

from colorizer.train.config import TrainConfig
from colorizer.train.precision import autocast_dtype, cpu_flags, native_bf16
from colorizer.train.trainer import Trainer


def _cpuinfo(tmp_path: Path, flags: str) -> Path:
    path = tmp_path / "cpuinfo"
    path.write_text(f"processor\t: 0\nmodel name\t: test\nflags\t\t: fpu sse2 {flags}\n\nprocessor\t: 1\n")
    return path


def test_native_bf16_is_read_from_the_cpu_flags(tmp_path: Path) -> None:
    cpu = torch.device("cpu")
    assert "avx512_bf16" in cpu_flags(_cpuinfo(tmp_path, "avx512f avx512_bf16"))
    assert native_bf16(cpu, _cpuinfo(tmp_path, "avx512f avx512_bf16"))
    assert native_bf16(cpu, _cpuinfo(tmp_path, "amx_tile amx_bf16"))
    assert not native_bf16(cpu, _cpuinfo(tmp_path, "avx2 avx512f"))
    assert not native_bf16(cpu, tmp_path / "missing")  # not Linux: no flags, fp32


def test_precision_names() -> None:
    cpu = torch.device("cpu")
    assert autocast_dtype("fp32", cpu) is None
    assert autocast_dtype("bf16", cpu) is torch.bfloat16
    assert autocast_dtype("auto", cpu) is (torch.bfloat16 if native_bf16(cpu) else None)
    with pytest.raises(ValueError, match="precision"):
        TrainConfig(precision="fp16")


def test_a_bf16_step_keeps_fp32_weights_and_matches_fp32(tiny_cfg: TrainConfig) -> None:
    losses = {}
    weights = {}
    for precision in ("fp32", "bf16"):
        torch.manual_seed(0)
        trainer = Trainer(replace(tiny_cfg, precision=precision, adv_start=0, w_hint=1.0))
        losses[precision] = trainer.train_step(trainer.val_batch)
        weights[precision] = [p.detach().clone() for p in trainer.generator.parameters()]
        assert all(p.dtype == torch.float32 for p in trainer.generator.parameters())
        assert trainer.meta["precision"] == ("fp32" if precision == "fp32" else "bf16 autocast")
    for name, value in losses["fp32"].items():
        # bf16 keeps 8 bits of mantissa: a loss agrees to a few per cent, not to fp32's digits.
        assert losses["bf16"][name] == pytest.approx(value, rel=0.05, abs=2e-3), name
    # The step moved the weights the same way (Adam's first step is about lr * sign(grad)).
    moved_fp32 = torch.cat([w.flatten() for w in weights["fp32"]])
    moved_bf16 = torch.cat([w.flatten() for w in weights["bf16"]])
    assert torch.nn.functional.cosine_similarity(moved_fp32, moved_bf16, dim=0) > 0.99
