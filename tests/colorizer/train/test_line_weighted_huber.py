"""The line-weighted Huber term (``--w-edge``): errors next to the sketch's ink count more."""

import torch

from colorizer.train.config import TrainConfig
from colorizer.train.losses import huber, line_weights, weighted_huber


def _sketch_with_vertical_line(size: int = 32, column: int = 16) -> torch.Tensor:
    sketch = torch.ones(1, 1, size, size)
    sketch[..., column] = 0.0
    return sketch


def test_weights_cover_the_ink_and_radius_only() -> None:
    weights = line_weights(_sketch_with_vertical_line(), w_edge=4.0, radius=2)
    row = weights[0, 0, 5]
    assert torch.equal(row[14:19], torch.full((5,), 5.0))
    assert torch.equal(row[:14], torch.ones(14)) and torch.equal(row[19:], torch.ones(13))


def test_uniform_weights_give_plain_huber() -> None:
    torch.manual_seed(0)
    out, truth = torch.rand(2, 3, 16, 16), torch.rand(2, 3, 16, 16)
    plain = huber(out, truth, 0.1)
    assert torch.allclose(weighted_huber(out, truth, 0.1, torch.full((2, 1, 16, 16), 3.0)), plain)


def test_an_error_beside_the_line_costs_more_than_one_far_from_it() -> None:
    sketch = _sketch_with_vertical_line()
    weights = line_weights(sketch, w_edge=4.0, radius=2)
    truth = torch.zeros(1, 3, 32, 32)
    near, far = truth.clone(), truth.clone()
    near[..., 17] = 0.5  # a color spilled one pixel past the line
    far[..., 4] = 0.5  # the same error in the middle of a region
    assert torch.isclose(huber(near, truth, 0.1), huber(far, truth, 0.1))
    ratio = weighted_huber(near, truth, 0.1, weights) / weighted_huber(far, truth, 0.1, weights)
    assert torch.isclose(ratio, torch.tensor(5.0))


def test_the_trainer_uses_it_and_checks_its_settings(tiny_cfg: TrainConfig) -> None:
    import math
    from dataclasses import replace

    import pytest

    from colorizer.data.dataset import SyntheticDataset, fixed_batch
    from colorizer.train.trainer import Trainer

    batch = fixed_batch(SyntheticDataset(32, seed=3), [0, 1])
    plain = Trainer(replace(tiny_cfg, w_a=0.0, seed=1))
    edged = Trainer(replace(tiny_cfg, w_a=0.0, seed=1, w_edge=4.0))
    edged.generator.load_state_dict(plain.generator.state_dict())
    a, b = plain.train_step(batch)["huber"], edged.train_step(batch)["huber"]
    assert math.isfinite(b) and a != b  # the same weights, the same batch: another weighting
    with pytest.raises(ValueError, match="edge_radius"):
        replace(tiny_cfg, edge_radius=0)
    with pytest.raises(ValueError, match="loss weights"):
        replace(tiny_cfg, w_edge=-1.0)
