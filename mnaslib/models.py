"""Build Keras 3 functional models from an ``Arch`` or block strings, and the reference networks.

The builder follows the official MnasNet code (``mnasnet_models.py`` / ``mnasnet_model.py``): stem 3x3 conv stride 2,
the blocks, a 1x1 head conv to 1280 filters (never scaled by the depth multiplier), global average pooling, dropout
and a dense classifier. The depth multiplier rounds filters with the official rule (divisor 8).
"""
from __future__ import annotations

import math
from dataclasses import replace
from typing import Callable, Iterable

import keras
from keras import layers

from mnaslib.blocks import block_layer, conv_bn
from mnaslib.space import Arch, MnasNetSpace

DEPTH_DIVISOR = 8

_REFERENCE_STRINGS = {
    "mnasnet-a1": ("r1_k3_s11_e1_i32_o16_noskip r2_k3_s22_e6_i16_o24 r3_k5_s22_e3_i24_o40_se0.25 "
                   "r4_k3_s22_e6_i40_o80 r2_k3_s11_e6_i80_o112_se0.25 r3_k5_s22_e6_i112_o160_se0.25 "
                   "r1_k3_s11_e6_i160_o320", 32),
    "mnasnet-b1": ("r1_k3_s11_e1_i32_o16_noskip r3_k3_s22_e3_i16_o24 r3_k5_s22_e3_i24_o40 r3_k5_s22_e6_i40_o80 "
                   "r2_k3_s11_e6_i80_o96 r4_k5_s22_e6_i96_o192 r1_k3_s11_e6_i192_o320_noskip", 32),
    "mnasnet-small": ("r1_k3_s11_e1_i16_o8 r1_k3_s22_e3_i8_o16 r2_k3_s22_e6_i16_o16 r4_k5_s22_e6_i16_o32_se0.25 "
                      "r3_k3_s11_e6_i32_o32_se0.25 r3_k5_s22_e6_i32_o88_se0.25 r1_k3_s11_e6_i88_o144", 8),
    "mnasnet-d1": ("r1_k3_s11_e9_i32_o24 r3_k3_s22_e9_i24_o36 r5_k3_s22_e9_i36_o48 r4_k5_s22_e9_i48_o96 "
                   "r5_k7_s11_e3_i96_o96 r3_k3_s22_e9_i96_o80 r1_k7_s11_e6_i80_o320_noskip", 32),
    # MobileNetV2 (Sandler et al. 2018) written as a point of the MnasNet space: every block MBConv6 k3 except the
    # first (expansion 1), identity skips, no SE.
    "mobilenetv2": ("r1_k3_s11_e1_i32_o16 r2_k3_s22_e6_i16_o24 r3_k3_s22_e6_i24_o32 r4_k3_s22_e6_i32_o64 "
                    "r3_k3_s11_e6_i64_o96 r3_k3_s22_e6_i96_o160 r1_k3_s11_e6_i160_o320", 32),
}
# Table 6: A1's layers and filters (and its SE and skips) with every block's op and kernel replaced.
_TABLE6_VARIANTS = {"a1-mbconv3-k3": (3, 3), "a1-mbconv3-k5": (3, 5), "a1-mbconv6-k3": (6, 3),
                    "a1-mbconv6-k5": (6, 5)}
DEFAULT_DROPOUT = {"mnasnet-small": 0.0}
KERAS_BASELINES = ("keras-mobilenet", "keras-mobilenetv2", "keras-mobilenetv2-1.4", "keras-nasnetmobile")


def reference_arch(name: str) -> Arch:
    """A reference network by name (``mnasnet-a1``, ``a1``, ``mobilenetv2``, ``a1-mbconv6-k5`` ...)."""
    key = _canonical_name(name)
    if key in _REFERENCE_STRINGS:
        strings, stem = _REFERENCE_STRINGS[key]
        return Arch.from_block_strings(strings, stem_filters=stem, name=key)
    if key in _TABLE6_VARIANTS:
        expansion, kernel = _TABLE6_VARIANTS[key]
        a1 = reference_arch("mnasnet-a1")
        blocks = tuple(replace(b, expand_ratio=expansion, kernel=kernel, op="mbconv") for b in a1.blocks)
        return Arch(blocks, a1.stem_filters, a1.head_filters, key)
    raise ValueError(f"unknown reference architecture {name!r}; known: {', '.join(reference_names())} "
                     f"(Keras baselines, built by keras_baseline(): {', '.join(KERAS_BASELINES)})")


def reference_names() -> list[str]:
    return list(_REFERENCE_STRINGS) + list(_TABLE6_VARIANTS)


def _canonical_name(name: str) -> str:
    key = name.strip().lower().replace("_", "-")
    if key in ("a1", "b1", "small", "d1"):
        key = f"mnasnet-{key}"
    return key.replace("mnasnet-mnasnet", "mnasnet")


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


def build_model(arch: Arch | str | Iterable[str], *, depth_multiplier: float = 1.0, input_size: int = 224,
                num_classes: int = 1000, dropout: float | None = None, stem_stride: int = 2, input_channels: int = 3,
                name: str | None = None) -> keras.Model:
    """A functional Keras model for an architecture.

    ``arch`` may be an ``Arch``, a reference name (``"mnasnet-a1"``) or block strings. ``stem_stride=1`` adapts the
    network to small proxy inputs (32x32 CIFAR images keep a 2x2 map before the head instead of vanishing to 1x1).
    ``dropout`` defaults to the official 0.2 (0 for mnasnet-small).
    """
    arch = as_arch(arch)
    check_build_options(depth_multiplier, input_size, num_classes)
    if stem_stride not in (1, 2):
        raise ValueError(f"stem_stride must be 1 or 2, got {stem_stride}")
    if dropout is None:
        dropout = DEFAULT_DROPOUT.get(arch.name, 0.2)

    inputs = keras.Input((input_size, input_size, input_channels), name="image")
    x = conv_bn(inputs, round_filters(arch.stem_filters, depth_multiplier), 3, stem_stride, "stem")
    for b, spec in enumerate(arch.blocks):
        in_filters = round_filters(spec.in_filters, depth_multiplier)
        out_filters = round_filters(spec.out_filters, depth_multiplier)
        for r in range(spec.repeats):
            x = block_layer(x, spec, in_filters if r == 0 else out_filters, out_filters,
                            spec.stride if r == 0 else 1, name=f"block{b + 1}{_letter(r)}")
    x = conv_bn(x, arch.head_filters, 1, 1, "head")
    model_name = name or (f"{arch.name or 'arch-' + arch.arch_id}"
                          f"{'' if depth_multiplier == 1.0 else f'-x{depth_multiplier:g}'}")
    return classifier_head(inputs, x, num_classes, dropout, model_name)


def classifier_head(inputs, features, num_classes: int, dropout: float, name: str) -> keras.Model:
    """Global average pooling, dropout and the dense classifier (U(+-1/sqrt(classes)) init, as the official code),
    closing a functional model; shared by every space's builder so their heads cannot drift apart."""
    x = layers.GlobalAveragePooling2D(name="avg_pool")(features)
    if dropout > 0:
        x = layers.Dropout(dropout, name="dropout")(x)
    bound = 1.0 / math.sqrt(num_classes)
    outputs = layers.Dense(num_classes, kernel_initializer=keras.initializers.RandomUniform(-bound, bound),
                           name="predictions")(x)
    return keras.Model(inputs, outputs, name=_keras_safe(name))


def check_build_options(depth_multiplier: float, input_size: int, num_classes: int) -> None:
    """The options every builder and cost model refuses, with one set of messages."""
    if depth_multiplier <= 0 or not math.isfinite(depth_multiplier):
        raise ValueError(f"depth_multiplier must be a positive number, got {depth_multiplier}")
    if input_size < 8:
        raise ValueError(f"input_size must be at least 8 pixels, got {input_size}")
    if num_classes < 1:
        raise ValueError(f"num_classes must be >= 1, got {num_classes}")


def as_arch(arch: Arch | str | Iterable[str]) -> Arch:
    """Accept an ``Arch``, a reference name, or block strings (one string or a list)."""
    if isinstance(arch, Arch):
        return arch
    if isinstance(arch, str):
        if "_" not in arch or arch.strip().lower().replace("_", "-") in reference_names():
            return reference_arch(arch)
        return Arch.from_block_strings(arch)
    return Arch.from_block_strings(list(arch))


def keras_baseline(name: str, *, input_size: int = 224, num_classes: int = 1000) -> keras.Model:
    """Keras' own MobileNet (V1), MobileNetV2 (1.0 and 1.4) and NASNetMobile, untrained, as baselines."""
    apps = keras.applications
    shape = (input_size, input_size, 3)
    builders: dict[str, Callable[[], keras.Model]] = {
        "keras-mobilenet": lambda: apps.MobileNet(input_shape=shape, weights=None, classes=num_classes),
        "keras-mobilenetv2": lambda: apps.MobileNetV2(input_shape=shape, weights=None, classes=num_classes),
        "keras-mobilenetv2-1.4": lambda: apps.MobileNetV2(input_shape=shape, alpha=1.4, weights=None,
                                                          classes=num_classes),
        "keras-nasnetmobile": lambda: apps.NASNetMobile(input_shape=shape, weights=None, classes=num_classes),
    }
    key = name.strip().lower()
    if key not in builders:
        raise ValueError(f"unknown Keras baseline {name!r}; known: {', '.join(builders)}")
    return builders[key]()


def build_any(name_or_arch: Arch | str | Iterable[str], **kwargs) -> keras.Model:
    """Build a reference name, a Keras baseline name or block strings with one call (used by the CLI)."""
    if isinstance(name_or_arch, str) and name_or_arch.strip().lower() in KERAS_BASELINES:
        allowed = {k: v for k, v in kwargs.items() if k in ("input_size", "num_classes")}
        if set(kwargs) - set(allowed) - {"depth_multiplier"} or kwargs.get("depth_multiplier", 1.0) != 1.0:
            raise ValueError(f"{name_or_arch} only takes input_size and num_classes")
        return keras_baseline(name_or_arch, **allowed)
    return build_model(name_or_arch, **kwargs)


def mobilenetv2_tokens(space: MnasNetSpace | None = None) -> list[int]:
    """MobileNetV2 as tokens of the MnasNet space (it is the space's centre point)."""
    return (space or MnasNetSpace()).encode(reference_arch("mobilenetv2"))


def _letter(index: int) -> str:
    return chr(ord("a") + index) if index < 26 else f"r{index}"


def _keras_safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name)
