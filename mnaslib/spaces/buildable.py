"""What "something buildable" means: ``BuildOptions`` and the ``Buildable`` protocol.

Every network mnaslib handles (a point of the MnasNet space, a NASNet-style cell architecture, a Keras application
standing in for a baseline, a NAS-Bench-Macro or Accel-NASBench network) has a stable ``arch_id``, a readable
``block_strings()`` description and ``build(options)``, which returns a functional Keras model. Code that needs a
network takes a ``Buildable`` and never sniffs its type.

``BuildOptions`` gathers the settings that used to travel as a ``depth_multiplier / input_size / num_classes``
trio: the width multiplier, the input resolution, the number of classes, the stem stride (1 adapts a network to
32x32 proxy images), dropout and whether Keras applications drop their softmax for training. ``DEPLOYMENT`` is the
network the paper deploys and times: 224x224, 1000 classes, stride-2 stem.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from mnaslib.errors import UserError, as_int

if TYPE_CHECKING:
    import keras

MAX_INPUT_SIZE = 1024  # larger inputs take minutes to convert and time on a CPU; refuse them instead of hanging
MAX_CLASSES = 100_000


def check_build_options(depth_multiplier: float, input_size: int, num_classes: int) -> None:
    """The options every builder and cost model refuses, with one set of messages."""
    if depth_multiplier <= 0 or not math.isfinite(depth_multiplier):
        raise UserError(f"depth_multiplier must be a positive number, got {depth_multiplier!r}")
    if input_size < 8 or input_size > MAX_INPUT_SIZE:
        raise UserError(f"input_size must be between 8 and {MAX_INPUT_SIZE} pixels, got {input_size}")
    if num_classes < 1 or num_classes > MAX_CLASSES:
        raise UserError(f"num_classes must be between 1 and {MAX_CLASSES:,}, got {num_classes}")


@dataclass(frozen=True)
class BuildOptions:
    """How to build a network: width, resolution, classes, stem stride, dropout, classifier output.

    ``depth_multiplier`` scales every width with the official rounding (Keras applications take it as their
    ``alpha``); ``stem_stride`` is 2 for the deployment network and 1 for small proxy inputs; ``dropout`` ``None``
    keeps the network's own default; ``logits`` makes Keras applications return logits (mnaslib's own builders
    always do), which training needs and deployment, timed with the softmax the calibration networks had, does not.
    """

    depth_multiplier: float = 1.0
    input_size: int = 224
    num_classes: int = 1000
    stem_stride: int = 2
    dropout: float | None = None
    logits: bool = False

    def __post_init__(self) -> None:
        if isinstance(self.depth_multiplier, (bool, str)):
            raise UserError(f"depth_multiplier must be a positive number, got {self.depth_multiplier!r}")
        try:
            object.__setattr__(self, "depth_multiplier", float(self.depth_multiplier))
        except (TypeError, ValueError):
            raise UserError(f"depth_multiplier must be a positive number, got {self.depth_multiplier!r}") from None
        object.__setattr__(self, "input_size", as_int(self.input_size, "input_size"))
        object.__setattr__(self, "num_classes", as_int(self.num_classes, "num_classes"))
        object.__setattr__(self, "stem_stride", as_int(self.stem_stride, "stem_stride"))
        check_build_options(self.depth_multiplier, self.input_size, self.num_classes)
        if self.stem_stride not in (1, 2):
            raise UserError(f"stem_stride must be 1 or 2, got {self.stem_stride}")
        if self.dropout is not None and not 0.0 <= float(self.dropout) < 1.0:
            raise UserError(f"dropout must be in [0, 1), got {self.dropout}")

    def replace(self, **changes: Any) -> "BuildOptions":
        """A copy with some options changed (validated again)."""
        return replace(self, **changes)

    def widened(self, multiplier: float) -> "BuildOptions":
        """The same options with the width multiplied by ``multiplier`` (a 0.35x network trained at the proxy's
        0.35 width is built at 0.1225, staying 0.35x the width of its 1.0x sibling)."""
        return self.replace(depth_multiplier=self.depth_multiplier * float(multiplier))


DEPLOYMENT = BuildOptions()


@runtime_checkable
class Buildable(Protocol):
    """A network: a stable id, a readable description and a Keras builder."""

    name: str

    @property
    def arch_id(self) -> str: ...

    def block_strings(self) -> list[str]: ...

    def build(self, options: BuildOptions = DEPLOYMENT) -> "keras.Model": ...
