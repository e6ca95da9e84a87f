"""The model's tensor contract: the one place that defines names, shapes, dtypes and ranges.

Training, export, the Triton config, both serving backends and the tests read it from here, so
they cannot drift apart. This module imports nothing heavier than the standard library.

Conventions (all tensors NCHW, float32):

* ``sketch``  [N, 1, H, W]        line art, 0.0 = black ink, 1.0 = white paper.
* ``hint``    [N, 4, H/4, W/4]    channels 0..2: RGB of the hinted color (0..1) times the mask,
                                  channel 3: the mask (1.0 where a hint is given, else 0.0).
* ``color``   [N, 3, H, W]        RGB output, 0..1 (the graph clamps it).

H and W must be multiples of :data:`STRIDE` (the generator down-samples four times).
Channel order is RGB everywhere in tensors; OpenCV's BGR exists only at file I/O.
"""

from __future__ import annotations

from dataclasses import dataclass

#: Name of the model in the Triton repository and in API responses.
MODEL_NAME = "colorizer"

#: Spatial multiple every input height and width must satisfy (2 ** number of down-samplings).
STRIDE = 16

#: Ratio between the sketch resolution and the hint-map resolution.
HINT_SCALE = 4

#: Square side the shipped model is trained and served at by default.
DEFAULT_SIZE = 256


@dataclass(frozen=True)
class TensorSpec:
    """Name, layout and value range of one model tensor."""

    name: str
    channels: int
    #: Spatial size relative to the sketch (1 = same size, 4 = a quarter of it).
    scale_down: int
    dtype: str
    low: float
    high: float
    doc: str

    def shape(self, batch: int | None, height: int, width: int) -> tuple[int | None, int, int, int]:
        """Shape of this tensor for a batch of sketches of ``height`` x ``width`` pixels."""
        check_size(height, width)
        return (batch, self.channels, height // self.scale_down, width // self.scale_down)


SKETCH = TensorSpec(
    name="sketch",
    channels=1,
    scale_down=1,
    dtype="float32",
    low=0.0,
    high=1.0,
    doc="line sketch, 0 = ink, 1 = paper",
)
HINT = TensorSpec(
    name="hint",
    channels=4,
    scale_down=HINT_SCALE,
    dtype="float32",
    low=0.0,
    high=1.0,
    doc="RGB x mask, then mask, at 1/4 resolution",
)
COLOR = TensorSpec(
    name="color",
    channels=3,
    scale_down=1,
    dtype="float32",
    low=0.0,
    high=1.0,
    doc="colored RGB image",
)

INPUTS: tuple[TensorSpec, ...] = (SKETCH, HINT)
OUTPUTS: tuple[TensorSpec, ...] = (COLOR,)


def check_size(height: int, width: int) -> None:
    """Raise ``ValueError`` unless ``height`` x ``width`` is a size the generator accepts."""
    if height <= 0 or width <= 0:
        raise ValueError(f"size must be positive, got {height}x{width}")
    if height % STRIDE or width % STRIDE:
        raise ValueError(
            f"height and width must be multiples of {STRIDE}, got {height}x{width}"
        )
