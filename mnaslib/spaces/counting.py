"""Exact parameter and mult-add counts, per layer and in total, for any Keras model.

Mult-adds count multiply-accumulates of convolutions (regular, depthwise, separable) and dense layers, which is
what the paper and the official code report; batch norm, activations, pooling, adds and the SE multiply are not
counted. Parameters are reported both as trainable (what the paper and PyTorch count) and total (Keras also counts
the BN moving statistics).
"""
from __future__ import annotations

import math

import keras
import pandas as pd
from keras import layers


def _count(weights) -> int:
    return int(sum(math.prod(w.shape) for w in weights))


def _spatial(shape) -> int:
    return int(math.prod(d for d in shape[1:-1]))


def layer_mult_adds(layer: keras.layers.Layer) -> int:
    """Mult-adds of one layer at batch 1 (0 for layers without multiply-accumulates)."""
    if isinstance(layer, layers.DepthwiseConv2D):
        kh, kw = layer.kernel_size
        channels = layer.input.shape[-1]
        return _spatial(layer.output.shape) * kh * kw * channels * layer.depth_multiplier
    if isinstance(layer, layers.SeparableConv2D):
        kh, kw = layer.kernel_size
        channels = layer.input.shape[-1]
        depthwise = _spatial(layer.output.shape) * kh * kw * channels * layer.depth_multiplier
        return depthwise + _spatial(layer.output.shape) * channels * layer.depth_multiplier * layer.filters
    if isinstance(layer, layers.Conv2D):
        kh, kw = layer.kernel_size
        channels = layer.input.shape[-1] // layer.groups
        return _spatial(layer.output.shape) * kh * kw * channels * layer.filters
    if isinstance(layer, layers.Dense):
        return int(layer.input.shape[-1]) * layer.units * _spatial((1,) + tuple(layer.output.shape[1:-1]) + (1,))
    return 0


def profile_model(model: keras.Model) -> pd.DataFrame:
    """One row per layer with params or mult-adds: name, type, output shape, trainable/total params, mult-adds."""
    rows = []
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            nested = profile_model(layer)
            nested["layer"] = layer.name + "/" + nested["layer"]
            rows.extend(nested.to_dict("records"))
            continue
        trainable = _count(layer.trainable_weights)
        total = trainable + _count(layer.non_trainable_weights)
        mult_adds = layer_mult_adds(layer)
        if total == 0 and mult_adds == 0:
            continue
        rows.append({"layer": layer.name, "type": type(layer).__name__,
                     "output_shape": tuple(layer.output.shape[1:]), "trainable_params": trainable,
                     "total_params": total, "mult_adds": int(mult_adds)})
    return pd.DataFrame(rows, columns=["layer", "type", "output_shape", "trainable_params", "total_params",
                                       "mult_adds"])


def summarize(model: keras.Model) -> dict[str, int]:
    """Totals: trainable params, total params and mult-adds (all exact integers)."""
    table = profile_model(model)
    return {"trainable_params": int(table["trainable_params"].sum()),
            "total_params": int(table["total_params"].sum()),
            "mult_adds": int(table["mult_adds"].sum())}
