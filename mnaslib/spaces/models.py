"""Keras builders: the MnasNet-space network of an ``Arch``, and Keras' applications standing in for baselines.

The MnasNet builder follows the official code (``mnasnet_models.py`` / ``mnasnet_model.py``): stem 3x3 conv stride 2,
the blocks, a 1x1 head conv to 1280 filters (never scaled by the depth multiplier), global average pooling, dropout
and a dense classifier. The depth multiplier rounds filters with the official rule (divisor 8). Both builders take a
``BuildOptions``; ``mnaslib.spaces.zoo`` names the networks and ``Buildable.build`` is the usual way in.
"""
from __future__ import annotations

import math
from typing import Any, Protocol, Sequence

import keras
from keras import layers

from mnaslib.spaces.blocks import LayerChoices, block_layer, conv_bn
from mnaslib.spaces.buildable import DEPLOYMENT, BuildOptions

DEPTH_DIVISOR = 8
DEFAULT_DROPOUT = 0.2  # the official rate; mnasnet-small's official config has none (its Arch carries that)
# NASNet-A Mobile (Zoph et al. 2018): 1056 penultimate filters, 4 cells per stage, a 32-filter stem. Keras' generic
# NASNet builder needs the penultimate filters to be a multiple of 24 * filter_multiplier**2 = 96.
_NASNET_MOBILE = {"penultimate_filters": 1056, "num_blocks": 4, "stem_block_filters": 32, "skip_reduction": False,
                  "filter_multiplier": 2}
_NASNET_FILTER_STEP = 96
KERAS_FAMILIES = ("keras-mobilenet", "keras-mobilenetv2", "keras-nasnetmobile")


class BlockChoices(LayerChoices, Protocol):
    """One block of an ``Arch`` as the builder reads it: its layers' choices, widths, repeats and first stride."""

    in_filters: int
    out_filters: int
    repeats: int
    stride: int


class ArchChoices(Protocol):
    """What :func:`build_model` reads of an ``Arch`` (``spaces.arch``), by field: ``Arch.build`` imports this
    module when it is called (so an ``Arch`` is light until built), and the builder does not import it back."""

    blocks: Sequence[BlockChoices]
    stem_filters: int
    head_filters: int
    name: str
    dropout: float
    se_gate: str

    @property
    def arch_id(self) -> str: ...


def round_filters(filters: int, multiplier: float, divisor: int = DEPTH_DIVISOR) -> int:
    """The official depth-multiplier rounding: nearest multiple of ``divisor``, never more than 10% below.

    At multiplier 1.0 the filters are kept as they are, so the exact widths of the search space (12, 18, 30 ...)
    survive; every reference network's widths are multiples of 8, where the official rule is the identity anyway.
    """
    if multiplier == 1.0:
        return filters
    scaled = filters * multiplier
    new = max(divisor, int(scaled + divisor / 2) // divisor * divisor)
    if new < 0.9 * scaled:
        new += divisor
    return int(new)


def build_model(arch: ArchChoices, options: BuildOptions = DEPLOYMENT, *, input_channels: int = 3,
                name: str | None = None) -> keras.Model:
    """The functional Keras model (logits) of a MnasNet-space architecture.

    ``options.stem_stride=1`` adapts the network to small proxy inputs (32x32 CIFAR images keep a 2x2 map before the
    head instead of vanishing to 1x1). ``options.dropout`` defaults to the architecture's own (0.2 officially).
    """
    multiplier = options.depth_multiplier
    dropout = options.dropout if options.dropout is not None else arch.dropout
    inputs = keras.Input((options.input_size, options.input_size, input_channels), name="image")
    x = conv_bn(inputs, round_filters(arch.stem_filters, multiplier), 3, options.stem_stride, "stem")
    for b, spec in enumerate(arch.blocks):
        in_filters = round_filters(spec.in_filters, multiplier)
        out_filters = round_filters(spec.out_filters, multiplier)
        for r in range(spec.repeats):
            x = block_layer(x, spec, in_filters if r == 0 else out_filters, out_filters,
                            spec.stride if r == 0 else 1, name=f"block{b + 1}{_letter(r)}", se_gate=arch.se_gate)
    x = conv_bn(x, arch.head_filters, 1, 1, "head")
    model_name = name or f"{arch.name or 'arch-' + arch.arch_id}{'' if multiplier == 1.0 else f'-x{multiplier:g}'}"
    return classifier_head(inputs, x, options.num_classes, dropout, model_name)


def classifier_head(inputs, features, num_classes: int, dropout: float, name: str) -> keras.Model:
    """Global average pooling, dropout and the dense classifier (U(+-1/sqrt(classes)) init, as the official code),
    closing a functional model; shared by every space's builder so their heads cannot drift apart."""
    x = layers.GlobalAveragePooling2D(name="avg_pool")(features)
    if dropout > 0:
        x = layers.Dropout(dropout, name="dropout")(x)
    bound = 1.0 / math.sqrt(num_classes)
    outputs = layers.Dense(num_classes, kernel_initializer=keras.initializers.RandomUniform(-bound, bound),
                           name="predictions")(x)
    return keras.Model(inputs, outputs, name=keras_safe(name))


def build_keras_application(family: str, width: float, options: BuildOptions) -> keras.Model:
    """Keras' MobileNet (V1), MobileNetV2 or NASNetMobile, untrained, at ``width`` (their ``alpha``).

    Their stem has a fixed stride of 2; ``options.stem_stride=1`` (the proxy adaptation for small images) is emulated
    by resizing the input to twice its size in front of them, which gives every later layer the feature-map size a
    stride-1 stem would. ``options.logits`` drops their softmax for training; deployment networks keep it, exactly
    as the Pixel-1 model's calibration points were built.
    """
    if family not in KERAS_FAMILIES:
        raise ValueError(f"unknown Keras application {family!r}; known: {', '.join(KERAS_FAMILIES)}")
    size = options.input_size
    common: dict[str, Any] = {"weights": None, "classes": options.num_classes,
                              "classifier_activation": None if options.logits else "softmax"}
    if options.stem_stride == 2:
        return _keras_application(family, width, input_shape=(size, size, 3), **common)
    image = keras.Input((size, size, 3), name="image")
    resized = layers.Resizing(2 * size, 2 * size, name="stem_stride_1")(image)
    application = _keras_application(family, width, input_tensor=resized, **common)
    # re-rooted on the image so the model has one plain input (not a list) and stays flat
    return keras.Model(image, application.output, name=application.name)


def _keras_application(family: str, width: float, **common: Any) -> keras.Model:
    apps = keras.applications
    if family == "keras-mobilenet":
        return apps.MobileNet(alpha=width, **common)
    if family == "keras-mobilenetv2":
        return apps.MobileNetV2(alpha=width, **common)
    if width == 1.0:
        return apps.NASNetMobile(**common)
    from keras.src.applications.nasnet import NASNet  # NASNetMobile's generic builder, to scale its width

    steps = max(1, round(_NASNET_MOBILE["penultimate_filters"] * width / _NASNET_FILTER_STEP))
    options = {**_NASNET_MOBILE, "penultimate_filters": steps * _NASNET_FILTER_STEP,
               "stem_block_filters": max(8, round(_NASNET_MOBILE["stem_block_filters"] * width))}
    return NASNet(default_size=224, **options, **common)


def _letter(index: int) -> str:
    return chr(ord("a") + index) if index < 26 else f"r{index}"


def keras_safe(name: str) -> str:
    """A Keras-legal model name (letters, digits, ``-_.``)."""
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name)
