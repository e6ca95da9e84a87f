"""Training triples from prepared real pairs: own line art, white paper, hints only on the drawing."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from colorizer.data.real import LineStyle, MixedDataset, RealPairsDataset, line_style, pair_files
from colorizer.datasets.shard import Shard, write_shard
from colorizer.train.config import TrainConfig
from colorizer.train.trainer import Trainer

NO_STYLE = LineStyle(p_width=0, p_blur=0, p_pencil=0, p_gaps=0, p_jitter=0)
SIZE = 64


def _pair(folder: Path, name: str, rgb: tuple[int, int, int]) -> None:
    """A disk of ``rgb`` on transparent paper; its line art is the outline plus one extra stroke."""
    color = np.zeros((SIZE, SIZE, 4), np.uint8)
    cv2.circle(color, (32, 32), 20, (*rgb[::-1], 255), -1)  # BGRA
    lines = np.full((SIZE, SIZE), 255, np.uint8)
    cv2.circle(lines, (32, 32), 20, 0, 2)
    cv2.line(lines, (32, 14), (32, 50), 0, 1)  # a line the colors do not show
    for sub, img in (("color", color), ("lines", lines)):
        (folder / sub).mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(folder / sub / f"{name}.png"), img)


@pytest.fixture
def real_root(tmp_path: Path) -> Path:
    root = tmp_path / "real"
    folder = root / "toy"
    _pair(folder, "red", (220, 30, 30))
    _pair(folder, "green", (30, 200, 40))
    _pair(folder, "blue", (20, 40, 230))
    pairs = [
        {"name": "red", "drawing": "a", "split": "train"},
        {"name": "green", "drawing": "b", "split": "val"},
        {"name": "blue", "drawing": "c", "split": "test"},
    ]
    (folder / "manifest.json").write_text(json.dumps({"source": "toy", "size": SIZE, "pairs": pairs}))
    return root


def test_only_the_asked_split_is_read(real_root: Path) -> None:
    assert [n for _, n in pair_files(real_root, ["train"])] == ["red"]
    assert sorted(n for _, n in pair_files(real_root, ["val", "test"])) == ["blue", "green"]
    ds = RealPairsDataset(real_root, 32, seed=1)
    for i in range(12):
        target = ds[i][2]
        # red everywhere it is colored; never the val/test drawings' green or blue
        colored = target.amax(0) - target.amin(0) > 0.3
        assert colored.any() and bool((target[0][colored] > target[1][colored]).all())
    with pytest.raises(ValueError, match="make data"):
        RealPairsDataset(real_root, 32, splits=("nothing",))


def test_sample_uses_the_sources_own_lines_and_white_paper(real_root: Path) -> None:
    ds = RealPairsDataset(real_root, SIZE, scale=(1.0, 1.0), style=NO_STYLE, seed=0)
    sketch, hint, target = ds[0]
    assert sketch.shape == (1, SIZE, SIZE) and hint.shape == (4, SIZE // 4, SIZE // 4)
    assert target.shape == (3, SIZE, SIZE) and target.dtype == torch.float32
    # The stroke across the disk is in the line art only: the sketch has it, the colors do not.
    assert float(sketch[0, 32, 31:34].min()) < 0.3
    assert torch.allclose(target[:, 32, 28], target[:, 28, 28], atol=0.02)
    # Transparent paper became white.
    assert torch.allclose(target[:, 1, 1], torch.ones(3))


def test_hints_never_land_on_transparent_paper(real_root: Path) -> None:
    ds = RealPairsDataset(real_root, SIZE, scale=(1.0, 1.0), style=NO_STYLE, seed=3)
    cells = np.zeros((SIZE // 4, SIZE // 4), bool)
    yy, xx = np.mgrid[0 : SIZE // 4, 0 : SIZE // 4]
    inside = (yy * 4 + 2 - 32) ** 2 + (xx * 4 + 2 - 32) ** 2 < 22**2
    hinted = 0
    for i in range(20):
        mask = ds[i][1][3].numpy() > 0.5
        hinted += int(mask.sum())
        cells |= mask
    assert hinted > 0 and not (cells & ~inside).any()


def test_samples_are_deterministic_per_index(real_root: Path) -> None:
    a, b = RealPairsDataset(real_root, 32, seed=5), RealPairsDataset(real_root, 32, seed=5)
    for i in (0, 7):
        for x, y in zip(a[i], b[i], strict=True):
            assert torch.equal(x, y)
    assert not torch.equal(a[0][0], a[1][0]) or not torch.equal(a[0][1], a[1][1])


def test_line_style_changes_the_lines_but_not_the_format() -> None:
    lines = np.full((64, 64), 255, np.uint8)
    cv2.rectangle(lines, (10, 10), (50, 50), 0, 2)
    styled = [line_style(lines, np.random.default_rng(i)) for i in range(30)]
    assert all(s.shape == lines.shape and s.dtype == np.uint8 for s in styled)
    assert sum(not np.array_equal(s, lines) for s in styled) >= 10
    pencil = line_style(
        lines, np.random.default_rng(0), LineStyle(p_width=0, p_blur=0, p_pencil=1, p_gaps=0, p_jitter=0)
    )
    assert 40 <= int(pencil.min()) <= 110 and int(pencil.max()) == 255


def test_mixed_dataset_draws_at_the_asked_ratio(real_root: Path) -> None:
    class Tagged(torch.utils.data.Dataset):  # type: ignore[type-arg]
        def __init__(self, tag: float) -> None:
            self.tag = tag

        def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
            t = torch.tensor([self.tag])
            return t, t, t

    mixed = MixedDataset([Tagged(1.0), Tagged(0.0)], [0.3, 0.7], seed=0)
    share = float(np.mean([float(mixed[i][0]) for i in range(2000)]))
    assert abs(share - 0.3) < 0.04


def test_trainer_mixes_real_pairs_and_validates_on_their_val_split(real_root: Path, tmp_path: Path) -> None:
    cfg = TrainConfig(
        preset="tiny",
        crop=32,
        batch_size=2,
        steps=2,
        out=str(tmp_path / "run"),
        workers=0,
        threads=1,
        log_every=1,
        val_every=1,
        sample_every=2,
        ckpt_every=2,
        val_size=2,
        real=str(real_root),
        real_ratio=0.5,
    )
    trainer = Trainer(cfg)
    # The validation batch is the val split's green drawing.
    val_target = trainer.val_batch[2]
    colored = val_target.amax(1) - val_target.amin(1) > 0.3
    assert bool((val_target[:, 1][colored] > val_target[:, 0][colored]).all())
    trainer.fit(progress=False)
    assert trainer.step == 2 and (tmp_path / "run" / "last.pt").is_file()
    assert "real" in trainer.meta


def test_init_starts_from_a_model_file_with_fresh_optimizers(tmp_path: Path) -> None:
    base = TrainConfig(
        preset="tiny",
        crop=32,
        batch_size=2,
        steps=1,
        out=str(tmp_path / "a"),
        workers=0,
        threads=1,
        val_size=2,
    )
    first = Trainer(base)
    first.fit(progress=False)
    tuned = Trainer(
        TrainConfig(
            **{**base.to_dict(), "out": str(tmp_path / "b"), "init": str(tmp_path / "a" / "last.pt")}
        )
    )
    for p, q in zip(
        first.generator.state_dict().values(), tuned.generator.state_dict().values(), strict=True
    ):
        assert torch.equal(p, q)
    assert tuned.step == 0
    with pytest.raises(ValueError, match="not sgru/cpu"):
        Trainer(TrainConfig(**{**base.to_dict(), "preset": "cpu", "init": str(tmp_path / "a" / "last.pt")}))


def test_a_shard_holds_the_train_split_at_the_training_size(real_root: Path, tmp_path: Path) -> None:
    shard_path = tmp_path / "shard.npz"
    summary = write_shard(real_root, shard_path, size=32)
    assert summary["pairs"] == 1 and summary["by_source"] == {"toy": 1}
    shard = Shard(shard_path)
    bgra, gray = shard.pair(0)
    assert shard.names == ["red"] and bgra.shape == (32, 32, 4) and gray.shape == (32, 32)
    ds = RealPairsDataset(shard_path, 32, scale=(1.0, 1.0), style=NO_STYLE, seed=0)
    folder = RealPairsDataset(real_root, 32, scale=(1.0, 1.0), style=NO_STYLE, seed=0)
    sketch, _, target = ds[0]
    # The same pair as from the folder, up to the resize done once at shard time.
    assert torch.allclose(target, folder[0][2], atol=0.1) and float(sketch.min()) < 0.5
    with pytest.raises(ValueError, match="make data"):
        write_shard(real_root, tmp_path / "none.npz", split="nothing")


def test_a_shard_stops_at_its_size_limit(real_root: Path, tmp_path: Path) -> None:
    summary = write_shard(real_root, tmp_path / "tiny.npz", size=32, max_mib=1e-6)
    assert summary["pairs"] == 0 and summary["of"] == 1


def test_perceptual_features_from_a_package_train_a_step(tmp_path: Path) -> None:
    cfg = TrainConfig(
        preset="tiny", crop=32, batch_size=2, steps=1, out=str(tmp_path / "p"), workers=0, threads=1,
        val_size=2, perceptual="efficientnet-lite0", w_p=0.01,
    )
    trainer = Trainer(cfg)
    assert trainer.perceptual is not None and "efficientnet-lite0" in trainer.meta["perceptual"]
    losses = trainer.train_step(trainer.val_batch)
    assert losses["perceptual"] > 0
    with pytest.raises(ValueError, match="unknown perceptual"):
        TrainConfig(perceptual="resnet")
