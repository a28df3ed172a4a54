"""The Keras network of a NAS-Bench-Macro key (the space and the architecture are in ``spaces.macro``).

Plain functional Keras with mnaslib's own units (``blocks.conv_bn``, its BN settings and conv initialisers, which
the benchmark's README leaves open and which change no count or shape). Where PyTorch, in which the benchmark was
trained, and Keras disagree it follows PyTorch: a stride-2 depthwise conv gets explicit symmetric ``k // 2``
padding, because Keras' ``padding='same'`` pads an even-sized input only at the bottom and right and so samples
other pixels. The stem and every 1x1 conv sample the same pixels either way.
"""
from __future__ import annotations

from typing import Protocol, Sequence

import keras
from keras import layers

from mnaslib.spaces.blocks import batch_norm, conv_bn, conv_initializer
from mnaslib.spaces.buildable import BuildOptions
from mnaslib.spaces.models import classifier_head, round_filters


class SearchableLayer(Protocol):
    """What :func:`searchable_layer` reads of a ``MacroLayer`` (``spaces.macro``), by field: ``MacroArch.build``
    imports this module when it is called, and the builder does not import the space back."""

    token: int
    stride: int
    out_filters: int

    @property
    def name(self) -> str: ...

    @property
    def mbconv(self) -> tuple[int, int]: ...


def build_network(searchable: Sequence[SearchableLayer], name: str, options: BuildOptions, stem_width: int,
                  head_width: int) -> keras.Model:
    """Stem, the 8 searchable layers, head and classifier (logits), every width scaled by the depth multiplier."""
    multiplier = options.depth_multiplier
    inputs = keras.Input((options.input_size, options.input_size, 3), name="image")
    x = conv_bn(inputs, round_filters(stem_width, multiplier), 3, options.stem_stride, "stem")
    for layer in searchable:
        x = searchable_layer(x, layer, round_filters(layer.out_filters, multiplier))
    x = conv_bn(x, round_filters(head_width, multiplier), 1, 1, "head")
    suffix = "" if multiplier == 1.0 else f"-x{multiplier:g}"
    return classifier_head(inputs, x, options.num_classes, options.dropout or 0.0, name + suffix)


def searchable_layer(x, layer: SearchableLayer, out_filters: int):
    """One searchable layer on the (already width-scaled) tensor ``x``, producing ``out_filters`` channels.

    Identity: ``x`` itself, or where the stride or the width changes a 1x1 conv with the stride and BN, no
    activation. MBConv: expand 1x1 + BN + ReLU, depthwise + BN + ReLU, project 1x1 + BN, and the residual add when
    the stride is 1 and the widths match.
    """
    in_filters = x.shape[-1]
    keeps_shape = layer.stride == 1 and in_filters == out_filters
    if layer.token == 0:
        return x if keeps_shape else conv_bn(x, out_filters, 1, layer.stride, f"{layer.name}_shortcut",
                                             activation=None)
    expansion, kernel = layer.mbconv
    inputs = x
    x = conv_bn(x, in_filters * expansion, 1, 1, f"{layer.name}_expand")
    x = depthwise_bn_relu(x, kernel, layer.stride, f"{layer.name}_dwconv")
    x = conv_bn(x, out_filters, 1, 1, f"{layer.name}_project", activation=None)
    return layers.Add(name=f"{layer.name}_add")([x, inputs]) if keeps_shape else x


def depthwise_bn_relu(x, kernel: int, stride: int, name: str):
    """Depthwise conv with PyTorch's symmetric ``kernel // 2`` padding, then BN and ReLU."""
    padding = "same"
    if stride != 1:
        x = layers.ZeroPadding2D(kernel // 2, name=f"{name}_pad")(x)
        padding = "valid"
    x = layers.DepthwiseConv2D(kernel, strides=stride, padding=padding, use_bias=False,
                               depthwise_initializer=conv_initializer(), name=name)(x)
    x = batch_norm(x, f"{name}_bn")
    return layers.Activation("relu", name=f"{name}_relu")(x)
