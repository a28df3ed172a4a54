"""The proxy child's training loop: tensors read once, full batches, seeded epochs, and divergence stops it."""
import math

import keras
import numpy as np
import pytest
import tensorflow as tf

from mnaslib.evaluation.data import get_datasets
from mnaslib.evaluation.train import RMSPROP, TF1RMSprop
from mnaslib.evaluation.train_loop import accuracy, dataset_tensors, fit_epochs, steps_per_epoch


def _linear_problem(n=96, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 4)).astype(np.float32)
    y = (x[:, 0] > 0).astype(np.int32)
    return tf.constant(x), tf.constant(y)


def _model():
    keras.utils.set_random_seed(0)
    return keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])


def _fit(model, x, y, lr=0.05, epochs=5, seed=0):
    optimizer = TF1RMSprop(lr, **RMSPROP)
    optimizer.build(model.trainable_variables)
    loss = keras.losses.CategoricalCrossentropy(from_logits=True)
    return fit_epochs(model, optimizer, loss, x, y, num_classes=2, epochs=epochs, batch_size=32, seed=seed)


def test_steps_cover_every_image_with_full_batches():
    assert steps_per_epoch(4000, 128) == 32 and steps_per_epoch(4096, 128) == 32 and steps_per_epoch(3, 128) == 1


def test_tensors_are_the_whole_split_in_order_and_read_once():
    train_ds, _, info = get_datasets("synthetic", image_size=32, batch_size=50, val_size=40, max_train=130, seed=0)
    images, labels = dataset_tensors(train_ds)
    assert images.shape == (130, 32, 32, 3) and labels.shape == (130,) and labels.dtype == tf.int32
    again, _ = dataset_tensors(train_ds)
    assert again is images
    others = [train_ds.take(1) for _ in range(5)]
    for other in others:  # more pipelines than the cache keeps: the oldest goes, the newest stays
        dataset_tensors(other)
    assert dataset_tensors(others[-1])[0] is dataset_tensors(others[-1])[0]
    assert dataset_tensors(train_ds)[0] is not images
    with pytest.raises(ValueError, match="empty"):
        dataset_tensors(train_ds.take(0))


def test_training_learns_and_is_reproducible_for_a_seed():
    x, y = _linear_problem()
    first = _model()
    before = accuracy(first, x, y)
    losses = _fit(first, x, y)
    assert losses[-1] < losses[0] and accuracy(first, x, y) > max(0.9, before)
    second = _model()
    assert _fit(second, x, y) == losses
    third = _model()
    assert _fit(third, x, y, seed=1) != losses  # another seed, another order of batches


def test_a_non_finite_loss_stops_after_that_epoch():
    x, y = _linear_problem()
    losses = _fit(_model(), x, y, lr=float("inf"), epochs=4)
    assert len(losses) < 4 and not math.isfinite(losses[-1])
