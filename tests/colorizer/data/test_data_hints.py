"""Hint sampling: exact values for a hand-made case, distribution, and region-flat colors."""

import numpy as np
import pytest

from colorizer import contract
from colorizer.data.hints import (
    HintConfig,
    cell_colors,
    flat_cells,
    hint_from_mask,
    region_clicks,
    sample_hint,
)


def test_exact_hint_map_hand_made() -> None:
    # 8x8 image = 2x2 hint cells, each cell one flat color; an ink pixel on a cell corner must
    # not leak into the cell's color (only the central 2x2 pixels count).
    color = np.zeros((8, 8, 3), np.uint8)
    color[:4, :4] = (255, 0, 0)
    color[:4, 4:] = (0, 255, 0)
    color[4:, :4] = (0, 0, 255)
    color[4:, 4:] = (102, 51, 204)
    color[0, 0] = (0, 0, 0)
    mask = np.array([[True, False], [False, True]])
    hint = hint_from_mask(color, mask)
    expected = np.zeros((4, 2, 2), np.float32)
    expected[:3, 0, 0] = (1.0, 0.0, 0.0)
    expected[:3, 1, 1] = (0.4, 0.2, 0.8)
    expected[3] = mask
    assert hint.dtype == np.float32 and hint.shape == (4, 2, 2)
    np.testing.assert_allclose(hint, expected, atol=1e-7)
    assert flat_cells(color).tolist() == [[False, True], [True, True]]


def test_cell_colors_center_not_edge_mix() -> None:
    color = np.full((4, 4, 3), 200, np.uint8)
    color[0, :] = 0  # a line along the block's top edge
    assert cell_colors(color)[0, 0].tolist() == [200, 200, 200]


def test_distribution_counts_and_colors() -> None:
    size = 128
    color = np.zeros((size, size, 3), np.uint8)
    color[:, : size // 2] = (250, 200, 30)
    color[:, size // 2 :] = (20, 90, 160)
    rng = np.random.default_rng(0)
    counts = []
    for _ in range(200):
        hint = sample_hint(color, rng)
        assert hint.shape == (4, size // contract.HINT_SCALE, size // contract.HINT_SCALE)
        m = hint[3] > 0
        counts.append(int(m.sum()))
        # every hinted cell carries its region's flat color
        left = m[:, : size // 8]
        assert np.allclose(hint[:3, :, : size // 8][:, left].T, np.array([250, 200, 30]) / 255, atol=1e-6)
    counts_a = np.array(counts)
    assert 0.05 < (counts_a == 0).mean() < 0.3  # a fair share without hints
    assert counts_a.max() >= 24  # up to dozens


def test_bad_config_and_input() -> None:
    with pytest.raises(ValueError, match="density"):
        HintConfig(density_min=0.5, density_max=0.1)
    with pytest.raises(ValueError, match="multiple"):
        sample_hint(np.zeros((10, 12, 3), np.uint8), np.random.default_rng(0))


def test_region_clicks_give_one_click_per_region() -> None:
    allowed = np.zeros((10, 10), bool)
    allowed[:4, :4] = True  # region A: 16 cells
    allowed[6:, 6:] = True  # region B: 16 cells
    allowed[0, 9] = True  # a one-cell speck: below region_min_cells
    allowed[9, 0:2] = True  # region C: 2 cells
    rng = np.random.default_rng(1)
    clicks = region_clicks(allowed, rng, keep=1.0, min_cells=2)
    assert clicks.sum() == 3 and not (clicks & ~allowed).any()
    assert clicks[:4, :4].sum() == 1 and clicks[6:, 6:].sum() == 1 and clicks[9, :2].sum() == 1
    assert region_clicks(allowed, rng, keep=0.0).sum() == 0


def test_region_mode_hints_one_cell_per_flat_region() -> None:
    color = np.full((64, 64, 3), 255, np.uint8)
    color[:, 30:34] = 0  # a vertical line: two regions, left and right
    cfg = HintConfig(p_none=0.0, p_points=1.0, p_regions=1.0, region_keep=(1.0, 1.0), max_patches=0,
                     max_strokes=0)
    hint = sample_hint(color, np.random.default_rng(0), cfg)
    mask = hint[3] > 0.5
    assert mask.sum() == 2 and mask[:, :7].sum() == 1 and mask[:, 9:].sum() == 1


def _boxes_image() -> np.ndarray:
    """A 64 px color image: two flat closed boxes (red, blue) in black outlines on white."""
    import cv2

    img = np.full((64, 64, 3), 255, np.uint8)
    cv2.rectangle(img, (4, 4), (30, 60), (200, 40, 40), -1)
    cv2.rectangle(img, (34, 4), (60, 60), (40, 40, 200), -1)
    cv2.rectangle(img, (4, 4), (30, 60), (0, 0, 0), 2)
    cv2.rectangle(img, (34, 4), (60, 60), (0, 0, 0), 2)
    return img


def test_training_samples_can_get_their_hints_spread_as_the_gateway_spreads_them() -> None:
    from colorizer.data.dataset import make_sample
    from colorizer.data.hints import spread_for_training
    from colorizer.imaging.spread import spread_hints
    from colorizer.lines import extract_lines

    color = _boxes_image()
    plain_cfg = HintConfig(p_none=0.0, p_points=1.0, density_min=0.05, density_max=0.05, max_patches=0,
                           max_strokes=0)
    spread_cfg = HintConfig(**{**plain_cfg.__dict__, "p_spread": 1.0, "spread_max": 3})
    _, plain, _ = make_sample(color, np.random.default_rng(4), plain_cfg)
    _, spread, _ = make_sample(color, np.random.default_rng(4), spread_cfg)
    assert plain[3].sum() > 0
    lines = extract_lines(color)
    # The same sampled hints, grown by one of 1..3 steps over the boxes they lie in.
    assert any(np.array_equal(spread.numpy(), spread_hints(plain.numpy(), lines, k)) for k in (1, 2, 3))
    assert spread[3].sum() > plain[3].sum()
    # p_spread 0 draws nothing: the random stream, so every older recipe's samples, is unchanged.
    rng, given = np.random.default_rng(1), plain.numpy()
    assert spread_for_training(given, lines, rng, plain_cfg) is given
    assert rng.random() == np.random.default_rng(1).random()
    with pytest.raises(ValueError, match="probabilities"):
        HintConfig(p_spread=1.5)
