"""Training-free scores of a network at initialisation: NASWOT, synflow and grad-norm.

A trained proxy child costs tens of seconds; these cost one forward (and backward) pass, so
``benchmarks/proxy_fidelity.py`` measures whether they rank networks as well as a short training does. Each takes a
freshly built Keras model (logits out, the builder's own initialisation, not the proxy trainer's zeroed classifier:
with a zero classifier every gradient below it is zero) and real images.

* ``naswot`` (Mellor et al., 2021, "Neural Architecture Search without Training"): the log-determinant of the
  kernel K[i, j] = number of ReLUs on which images i and j agree (both active or both inactive), summed over every
  ReLU of the network. Networks that separate the images of a batch into more distinct activation patterns score
  higher. ``naswot_normalised`` divides it by its own upper bound N ln R (R ReLU units; the kernel's diagonal is
  R, so by Hadamard's inequality log det K <= N ln R); that removes the score's growth with network size, and on
  NAS-Bench-Macro it ranked networks much worse than NASWOT itself (the README's proxy-fidelity table).
  ``naswot_score`` puts NASWOT on a fixed scale in [0, 1] instead, for a reward to take in place of an accuracy
  (``ZeroCostEvaluator``): a positive constant factor keeps its ranking, and the ratios between networks that
  a multiplicative reward compares.
* ``synflow`` (Tanaka et al., 2020, as a NAS proxy by Abdelfattah et al., 2021): the weights replaced by their
  absolute values, an all-ones input, R = sum of the logits in inference mode; the score is
  sum over weights |w * dR/dw|, returned as its log10 (it spans many orders of magnitude). It runs on a float64
  copy of the network: with every weight positive the activations grow by a factor at every layer, and in float32
  they overflowed to infinity on deeper networks such as Accel-NASBench's (a NaN score); float64's range is
  10^308 instead of 10^38.
* ``grad_norm`` (Abdelfattah et al., 2021): the sum of the L2 norms of the cross-entropy gradient of every weight
  tensor on one labelled batch, in training mode.
"""
from __future__ import annotations

import math
import time

import keras
import numpy as np
import tensorflow as tf

SCORES = ("naswot", "naswot_normalised", "synflow", "grad_norm")
SCORE_UNITS = 1e9  # naswot_score's fixed scale: ln 10^9 per image


def _relu_outputs(model: keras.Model) -> list[tf.Tensor]:
    return [layer.output for layer in model.layers
            if isinstance(layer, keras.layers.ReLU)
            or (isinstance(layer, keras.layers.Activation) and layer.get_config()["activation"] == "relu")]


def naswot_kernel(model: keras.Model, images: np.ndarray) -> tuple[np.ndarray, int]:
    """The N x N ReLU agreement kernel over ``images`` and the number R of ReLU units it sums over."""
    outputs = _relu_outputs(model)
    if not outputs:
        raise ValueError(f"{model.name} has no ReLU layers: NASWOT scores ReLU activation patterns")
    probe = keras.Model(model.inputs[0], outputs)
    activations = probe(images, training=False)
    kernel, units = np.zeros((len(images), len(images))), 0
    for act in activations if isinstance(activations, (list, tuple)) else [activations]:
        codes = (np.reshape(act.numpy(), (len(images), -1)) > 0).astype(np.float64)
        kernel += codes @ codes.T + (1 - codes) @ (1 - codes).T
        units += codes.shape[1]
    return kernel, units


def naswot(model: keras.Model, images: np.ndarray) -> float:
    """log |det K| of the ReLU agreement kernel over ``images`` (a batch of N images gives an N x N kernel)."""
    return log_determinant(naswot_kernel(model, images)[0])


def naswot_normalised(model: keras.Model, images: np.ndarray) -> float:
    """NASWOT over its own upper bound, log det K / (N ln R), clipped to [0, 1] (0: a degenerate kernel)."""
    kernel, units = naswot_kernel(model, images)
    return bound_fraction(log_determinant(kernel), len(images), units)


def naswot_score(logdet: float, count: int) -> float:
    """NASWOT of ``count`` images on the fixed scale log det K / (N ln 10^9), in [0, 1] for every network with
    fewer than 10^9 ReLU units (a MnasNet child at 32x32 has about 10^5-10^6)."""
    return bound_fraction(logdet, count, SCORE_UNITS)


def bound_fraction(logdet: float, count: int, units: float) -> float:
    """``logdet / (count ln units)`` clipped to [0, 1]: the share of the Hadamard bound of R = ``units``."""
    bound = count * math.log(units) if units > 1 else 0.0
    return min(1.0, max(0.0, logdet / bound)) if bound > 0 else 0.0


def log_determinant(kernel: np.ndarray) -> float:
    """log det of a NASWOT kernel; minus infinity where it is singular (two images with one pattern)."""
    sign, logdet = np.linalg.slogdet(kernel)
    return float(logdet) if sign > 0 else float("-inf")


def float64_copy(model: keras.Model) -> keras.Model:
    """The same network and weights computing in float64 (the input is cast by the first layer)."""
    def in_float64(layer: keras.layers.Layer) -> keras.layers.Layer:
        return layer.__class__.from_config({**layer.get_config(), "dtype": "float64"})

    copy = keras.models.clone_model(model, clone_function=in_float64)
    copy.set_weights([np.asarray(w, dtype=np.float64) for w in model.get_weights()])
    return copy


def synflow(model: keras.Model, input_shape: tuple[int, int, int]) -> float:
    """log10 of sum |w * dR/dw| with every weight made positive and an all-ones input (R = sum of the logits),
    computed on a float64 copy of ``model`` (``model`` itself is left as it was)."""
    copy = float64_copy(model)
    for weight in copy.trainable_weights:
        weight.assign(tf.abs(weight))
    with tf.GradientTape() as tape:
        total = tf.reduce_sum(copy(tf.ones((1, *input_shape), tf.float64), training=False))
    grads = tape.gradient(total, copy.trainable_weights)
    logs = [math.log10(s) for w, g in zip(copy.trainable_weights, grads) if g is not None
            for s in [float(tf.reduce_sum(tf.abs(w * g)))] if 0 < s < math.inf]
    if not logs:
        return float("-inf")
    top = max(logs)
    return top + math.log10(sum(10 ** (v - top) for v in logs))


def grad_norm(model: keras.Model, images: np.ndarray, labels: np.ndarray) -> float:
    """Sum over weight tensors of the L2 norm of the cross-entropy gradient on one batch (training mode)."""
    loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    with tf.GradientTape() as tape:
        loss = loss_fn(labels, model(images, training=True))
    grads = tape.gradient(loss, model.trainable_weights)
    return float(sum(float(tf.norm(g)) for g in grads if g is not None))


def timed_scores(model: keras.Model, images: np.ndarray, labels: np.ndarray) -> dict[str, tuple[float, float]]:
    """``{score: (value, seconds)}`` for every score of ``SCORES`` on one freshly built model, in an order where
    none disturbs the next: synflow puts the weights back, and grad-norm (training mode, which moves the BN
    statistics) runs last. Both NASWOT scores come from one kernel, so they share its time."""
    start = time.perf_counter()
    kernel, units = naswot_kernel(model, images)
    logdet = log_determinant(kernel)
    normalised = bound_fraction(logdet, len(images), units)
    seconds = {"naswot": time.perf_counter() - start}
    start = time.perf_counter()
    flow = synflow(model, tuple(images.shape[1:]))
    seconds["synflow"] = time.perf_counter() - start
    start = time.perf_counter()
    norm = grad_norm(model, images, labels)
    seconds["grad_norm"] = time.perf_counter() - start
    return {"naswot": (logdet, seconds["naswot"]), "naswot_normalised": (normalised, seconds["naswot"]),
            "synflow": (flow, seconds["synflow"]), "grad_norm": (norm, seconds["grad_norm"])}
