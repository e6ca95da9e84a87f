"""Generator: tensor contract per preset, size errors, SGRU structure (concat residuals, gated skips)."""

import pytest
import torch

from colorizer import contract
from colorizer.model import PRESETS, Discriminator, build_generator
from colorizer.model.generator import ConcatResidualBlock, Generator, SwishGate


@pytest.mark.parametrize("preset", sorted(PRESETS))
def test_contract_shapes_every_preset(preset: str) -> None:
    torch.manual_seed(0)
    g = build_generator(preset).eval()
    n, h, w = 2, 32, 48  # small, so even "base" is quick
    sketch = torch.rand(contract.SKETCH.shape(n, h, w))  # type: ignore[arg-type]
    hint = torch.rand(contract.HINT.shape(n, h, w))  # type: ignore[arg-type]
    g.check_input(sketch, hint)
    with torch.no_grad():
        out = g(sketch, hint)
    assert tuple(out.shape) == contract.COLOR.shape(n, h, w)
    assert out.dtype == torch.float32
    assert contract.COLOR.low <= float(out.min()) and float(out.max()) <= contract.COLOR.high
    assert g.widths == PRESETS[preset].widths


def test_sizes_not_multiple_of_stride_are_clear_errors() -> None:
    g = build_generator("tiny")
    with pytest.raises(ValueError, match=f"multiples of {contract.STRIDE}"):
        g.check_input(torch.zeros(1, 1, 40, 32), torch.zeros(1, 4, 10, 8))
    with pytest.raises(ValueError, match="hint must be"):
        g.check_input(torch.zeros(1, 1, 32, 32), torch.zeros(1, 4, 16, 16))
    with pytest.raises(ValueError, match="sketch must be"):
        g.check_input(torch.zeros(1, 3, 32, 32), torch.zeros(1, 4, 8, 8))
    with pytest.raises(ValueError, match="unknown preset"):
        build_generator("huge")
    with pytest.raises(ValueError, match="5 levels"):
        Generator((8, 16))


def test_residual_blocks_concatenate() -> None:
    torch.manual_seed(0)
    block = ConcatResidualBlock(6, norm_layer=torch.nn.BatchNorm2d, act_layer=torch.nn.ReLU).eval()
    x = torch.randn(2, 6, 8, 8)
    with torch.no_grad():
        y = block(x)
        fx = block.body(x)
    assert y.shape[1] == 2 * x.shape[1]
    torch.testing.assert_close(y[:, :6], fx)  # first part F(x)
    torch.testing.assert_close(y[:, 6:], x)  # second part x itself (not a sum)


def test_skips_are_gated() -> None:
    torch.manual_seed(0)
    g = build_generator("tiny").eval()
    assert len(g.gates) == len(g.widths) - 1
    assert all(isinstance(gate, SwishGate) for gate in g.gates)
    gate = g.gates[0]
    x = torch.randn(1, gate.conv.in_channels, 4, 4)
    with torch.no_grad():
        torch.testing.assert_close(gate(x), x * torch.sigmoid(gate.conv(x)))
        # Closing a gate (sigmoid -> 0) cuts that skip: the output then ignores what it carried.
        sketch, hint = torch.rand(1, 1, 32, 32), torch.rand(1, 4, 8, 8)
        before = g(sketch, hint)
        for gt in g.gates:
            gt.conv.weight.zero_()
            gt.conv.bias.fill_(-1e4)
        after = g(sketch, hint)
    assert not torch.allclose(before, after)
    # Every residual block of every stage concatenates.
    assert sum(isinstance(m, ConcatResidualBlock) for m in g.modules()) == 2 * len(g.widths) - 1


def test_discriminator_unconditional_logits() -> None:
    d = Discriminator()
    logits = d(torch.rand(2, 3, 64, 64))
    assert logits.shape[0] == 2 and logits.shape[1] == 1
