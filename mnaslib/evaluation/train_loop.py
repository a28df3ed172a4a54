"""The proxy child's training loop: the split held in memory as tensors, one compiled training step, no ``fit``.

Why not ``keras.Model.fit``: a proxy child trains for a few dozen steps, so its fixed costs decide how many children
a search affords. ``fit`` traces a train function with its metrics and callbacks, then a test function, and pulls
every batch through a per-child ``tf.data`` iterator; on one laptop child (0.35 width, 32 px, 4,000 CIFAR-10
images, one thread) that was 34-39 s, against 24 s for this loop (``benchmarks/child_throughput.py`` measures both
side by side). The images are decoded once per process into tensors; each epoch draws a seeded permutation and
gathers full batches from it (the last batch wraps round to the permutation's start, so every step has the same
shape and the step is traced once); the loss is read back once per epoch, not per step.
"""
from __future__ import annotations

import math
from collections.abc import Callable

import keras
import tensorflow as tf

_TENSORS: dict[int, tuple[tf.data.Dataset, tf.Tensor, tf.Tensor]] = {}
_KEEP = 4  # a worker holds one proxy task's train and validation splits; a notebook may switch tasks


def dataset_tensors(ds: tf.data.Dataset) -> tuple[tf.Tensor, tf.Tensor]:
    """All ``(images, labels)`` of a finite batched pipeline as two tensors, cached per dataset object (the
    worker keeps its datasets for the life of the process, so each is decoded once; the oldest of more than
    ``_KEEP`` is dropped)."""
    cached = _TENSORS.get(id(ds))
    if cached is None or cached[0] is not ds:
        images, labels = [], []
        for x, y in ds:
            images.append(x)
            labels.append(tf.reshape(tf.cast(y, tf.int32), [-1]))
        if not images:
            raise ValueError("the dataset is empty: there is nothing to train or evaluate on")
        cached = (ds, tf.concat(images, 0), tf.concat(labels, 0))
        while len(_TENSORS) >= _KEEP:
            _TENSORS.pop(next(iter(_TENSORS)))
        _TENSORS[id(ds)] = cached
    return cached[1], cached[2]


def steps_per_epoch(num_images: int, batch_size: int) -> int:
    """Full batches per epoch: every image once, the last batch topped up from the permutation's start."""
    return max(1, math.ceil(num_images / batch_size))


def fit_epochs(model: keras.Model, optimizer: keras.optimizers.Optimizer, loss_fn: Callable, images: tf.Tensor,
               labels: tf.Tensor, *, num_classes: int, epochs: int, batch_size: int, seed: int,
               eager: bool = False) -> list[float]:
    """Train ``model`` for ``epochs`` on the tensors; returns the mean training loss of each epoch.

    Stops after the first epoch whose loss is not finite (the caller turns that into a failed child). ``eager``
    skips tracing, which is faster for the handful of steps of a ci child.
    """
    count = int(images.shape[0])
    steps = steps_per_epoch(count, batch_size)
    offsets = tf.range(batch_size)

    def step(order: tf.Tensor, index: tf.Tensor) -> tf.Tensor:
        picked = tf.gather(order, (index * batch_size + offsets) % count)
        x, y = tf.gather(images, picked), tf.one_hot(tf.gather(labels, picked), num_classes)
        with tf.GradientTape() as tape:
            loss = loss_fn(y, model(x, training=True))
        optimizer.apply(tape.gradient(loss, model.trainable_variables), model.trainable_variables)
        return loss

    # No Python control flow depends on tensors inside, so AutoGraph has nothing to convert.
    run_step = step if eager else tf.function(step, autograph=False)
    losses: list[float] = []
    for epoch in range(epochs):
        order = tf.random.experimental.stateless_shuffle(tf.range(count), seed=[seed, epoch])
        total = tf.constant(0.0)
        for index in range(steps):
            total += run_step(order, tf.constant(index))
        losses.append(float(total) / steps)
        if not math.isfinite(losses[-1]):
            break
    return losses


def accuracy(model: keras.Model, images: tf.Tensor, labels: tf.Tensor, batch_size: int = 500,
             eager: bool = False) -> float:
    """Top-1 accuracy of ``model`` in inference mode (moving BN statistics) on the tensors."""
    def correct(x: tf.Tensor, y: tf.Tensor) -> tf.Tensor:
        predicted = tf.argmax(model(x, training=False), axis=-1, output_type=tf.int32)
        return tf.reduce_sum(tf.cast(tf.equal(predicted, y), tf.int32))

    count_correct = correct if eager else tf.function(correct, reduce_retracing=True, autograph=False)
    hits = sum(int(count_correct(images[i:i + batch_size], labels[i:i + batch_size]))
               for i in range(0, int(images.shape[0]), batch_size))
    return hits / int(images.shape[0])
