"""A network's cost-model features, analytically from an ``Arch`` (cached per layer) or from any Keras model.

Both paths read the same canonical op list (:func:`mnaslib.latency.feature_model.canonical_ops`), so a network
built by Keras and the same network written as a MnasNet-space architecture get equal features. The ``Arch`` path
walks stem, blocks and head without building anything and caches each layer's and each block's features per
:class:`~mnaslib.latency.feature_model.FeatureSpec`, so a search pays tens of microseconds per new network.
"""
from __future__ import annotations

import functools
import math

import numpy as np

from mnaslib.spaces.arch import Arch, BlockSpec
from mnaslib.spaces.buildable import DEPLOYMENT, BuildOptions
from mnaslib.latency.feature_model import FeatureSpec, canonical_ops
from mnaslib.spaces.ops import LayerKey, block_layers, head_layer, keras_ops, layer_ops, stem_layer
from mnaslib.spaces.zoo import as_arch


def model_features(model, spec: FeatureSpec) -> np.ndarray:
    """Features of any Keras model (MnasNet builds, Keras' MobileNet/MobileNetV2/NASNetMobile ...)."""
    return spec.vector(canonical_ops(keras_ops(model)))


@functools.lru_cache(maxsize=65536)
def _layer_features(spec: FeatureSpec, key: LayerKey) -> tuple[float, ...]:
    return tuple(spec.vector(canonical_ops(layer_ops(key))))


@functools.lru_cache(maxsize=65536)
def _block_features(feature_spec: FeatureSpec, spec: BlockSpec, in_channels: int, resolution: int,
                    depth_multiplier: float, se_gate: str) -> tuple[tuple[float, ...], LayerKey]:
    """A block's summed features and its last layer (for chaining), cached per block in context."""
    layers = block_layers(spec, in_channels, resolution, depth_multiplier, se_gate)
    rows = [_layer_features(feature_spec, layer) for layer in layers]
    return tuple(map(math.fsum, zip(*rows))), layers[-1]


def part_features(arch: Arch | str, options: BuildOptions, spec: FeatureSpec) -> list[tuple[float, ...]]:
    """Features of the stem, of each block and of the head: the walk of :func:`mnaslib.spaces.ops.arch_layers`,
    from cached per-block features."""
    arch = as_arch(arch)
    last = stem_layer(arch, options)
    parts = [_layer_features(spec, last)]
    for block in arch.blocks:
        features, last = _block_features(spec, block, last.out_channels, last.out_resolution,
                                         options.depth_multiplier, arch.se_gate)
        parts.append(features)
    parts.append(_layer_features(spec, head_layer(arch, last, options.num_classes)))
    return parts


@functools.lru_cache(maxsize=65536)
def _arch_features(arch: Arch, options: BuildOptions, spec: FeatureSpec) -> tuple[float, ...]:
    return tuple(map(math.fsum, zip(*part_features(arch, options, spec))))


def arch_features(arch: Arch | str, spec: FeatureSpec, options: BuildOptions = DEPLOYMENT) -> np.ndarray:
    """Features of ``arch.build(options)`` computed analytically (no model is built)."""
    return np.array(_arch_features(as_arch(arch), options, spec))
