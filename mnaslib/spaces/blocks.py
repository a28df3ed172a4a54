"""Keras 3 layers of the MnasNet space, following the semantics of the official code (tensorflow/tpu,
``models/official/mnasnet/mnasnet_model.py``) and the paper (Tan et al., CVPR 2019, section 4.1 and Figure 7).

Functions take and return Keras tensors so models stay plain functional Keras with readable layer names
(``block3b_dwconv``, ``block3b_se_reduce`` ...), the style of ``keras.applications``.
"""
from __future__ import annotations

from typing import Protocol

import keras
from keras import layers

from mnaslib.spaces.batchnorm import FusedBatchNormalization

BN_MOMENTUM = 0.99
BN_EPSILON = 1e-3


class LayerChoices(Protocol):
    """What one layer of a block is built from: the choices of a ``BlockSpec`` (``spaces.arch``), read by field,
    so that these layers need not import the architecture whose ``build`` calls them."""

    op: str
    kernel: int
    expand_ratio: int
    se_ratio: float
    skip: str


def conv_initializer() -> keras.initializers.Initializer:
    """N(0, sqrt(2 / fan_out)), as the official code initialises every conv."""
    return keras.initializers.VarianceScaling(scale=2.0, mode="fan_out", distribution="untruncated_normal")


def batch_norm(x, name: str):
    """BN with the official momentum and epsilon; trains with the fused kernel (``mnaslib.spaces.batchnorm``)."""
    return FusedBatchNormalization(momentum=BN_MOMENTUM, epsilon=BN_EPSILON, name=name)(x)


def conv_bn(x, filters: int, kernel: int, stride: int, name: str, activation: str | None = "relu"):
    """Conv (no bias) + BN (+ activation): the unit every block is made of."""
    x = layers.Conv2D(filters, kernel, strides=stride, padding="same", use_bias=False,
                      kernel_initializer=conv_initializer(), name=f"{name}_conv")(x)
    x = batch_norm(x, f"{name}_bn")
    return layers.Activation(activation, name=f"{name}_{activation}")(x) if activation else x


def squeeze_excite(x, reduced_filters: int, name: str, gate: str = "sigmoid"):
    """Squeeze-and-excitation: pool, 1x1 reduce (ReLU), 1x1 expand with the gate (``sigmoid`` or
    ``hard_sigmoid``), rescale."""
    filters = x.shape[-1]
    s = layers.GlobalAveragePooling2D(keepdims=True, name=f"{name}_se_squeeze")(x)
    s = layers.Conv2D(reduced_filters, 1, activation="relu", kernel_initializer=conv_initializer(),
                      name=f"{name}_se_reduce")(s)
    s = layers.Conv2D(filters, 1, activation=gate, kernel_initializer=conv_initializer(),
                      name=f"{name}_se_expand")(s)
    return layers.Multiply(name=f"{name}_se_excite")([x, s])


def block_layer(x, spec: LayerChoices, in_filters: int, out_filters: int, stride: int, name: str,
                se_gate: str = "sigmoid"):
    """One layer of a block (the first layer of a block carries its stride).

    ``in_filters``/``out_filters`` are the already depth-multiplied counts; the SE width follows the official rule
    ``max(1, int(in_filters * se_ratio))`` on the layer's input filters; ``se_gate`` is the network's SE gate.
    """
    inputs = x
    if spec.op == "conv":
        x = conv_bn(x, out_filters, spec.kernel, stride, name)
        if spec.se_ratio > 0:
            x = squeeze_excite(x, max(1, int(in_filters * spec.se_ratio)), name, se_gate)
    else:
        if spec.expand_ratio != 1:
            x = conv_bn(x, in_filters * spec.expand_ratio, 1, 1, f"{name}_expand")
        x = layers.DepthwiseConv2D(spec.kernel, strides=stride, padding="same", use_bias=False,
                                   depthwise_initializer=conv_initializer(), name=f"{name}_dwconv")(x)
        x = batch_norm(x, f"{name}_dwconv_bn")
        x = layers.Activation("relu", name=f"{name}_dwconv_relu")(x)
        if spec.se_ratio > 0:
            x = squeeze_excite(x, max(1, int(in_filters * spec.se_ratio)), name, se_gate)
        x = conv_bn(x, out_filters, 1, 1, f"{name}_project", activation=None)
    return _skip(inputs, x, spec.skip, in_filters, out_filters, stride, name)


def _skip(inputs, x, skip: str, in_filters: int, out_filters: int, stride: int, name: str):
    """The block's SkipOp: identity where shapes match; 'pool' also bridges a stride/width change."""
    if skip == "none":
        return x
    if stride == 1 and in_filters == out_filters == inputs.shape[-1]:
        return layers.Add(name=f"{name}_add")([x, inputs])
    if skip == "identity":
        return x
    shortcut = inputs
    if stride != 1:
        shortcut = layers.AveragePooling2D(stride, strides=stride, padding="same", name=f"{name}_skip_pool")(shortcut)
    if inputs.shape[-1] != out_filters:
        shortcut = conv_bn(shortcut, out_filters, 1, 1, f"{name}_skip_proj", activation=None)
    return layers.Add(name=f"{name}_add")([x, shortcut])
