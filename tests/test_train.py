"""The proxy trainer: the official optimiser semantics, a classifier that starts neutral, learning, and failures."""
import math

import keras
import numpy as np
import pytest

from mnaslib.evaluation.data import get_datasets
from mnaslib.spaces.zoo import KerasNetwork, reference
from mnaslib.spaces.mnasnet import MnasNetSpace
from mnaslib.evaluation.train import (RMSPROP, ChildFailed, ProxyTask, TF1RMSprop, build_child, classifier_layer,
                                      paper_recipe, train_child)

TINY = ProxyTask(dataset="synthetic", image_size=32, epochs=2, batch_size=32, max_train=1024, val_size=128,
                 width_multiplier=0.35, learning_rate=0.032)


def test_rmsprop_mean_squares_start_at_one_inside_fit():
    """TF1's RMSProp starts the mean squares at 1; Keras' at 0 (which made the first steps ~3x lr on every weight)."""
    model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1, use_bias=False, kernel_initializer="zeros")])
    optimizer = TF1RMSprop(0.1, **RMSPROP)
    model.compile(optimizer=optimizer, loss="mse")
    x, y = np.ones((1, 1), np.float32), np.full((1, 1), 2.0, np.float32)
    model.fit(x, y, epochs=1, batch_size=1, verbose=0)
    gradient = -4.0  # d/dw (w*1 - 2)^2 at w = 0
    assert float(optimizer._velocities[0].numpy()[0, 0]) == pytest.approx(0.9 * 1.0 + 0.1 * gradient ** 2)
    step = 0.1 * -gradient / math.sqrt(0.9 + 0.1 * gradient ** 2 + RMSPROP["epsilon"])
    assert float(model.layers[0].kernel.numpy()[0, 0]) == pytest.approx(step, rel=1e-5)


@pytest.mark.parametrize("child", [reference("mnasnet-a1"), KerasNetwork("keras-mobilenet"),
                                   KerasNetwork("keras-mobilenetv2")], ids=["a1", "keras-v1", "keras-v2"])
def test_child_classifier_starts_at_zero_so_the_first_loss_is_ln_classes(child):
    """Keras' MobileNet (V1) classifies with a 1x1 conv followed by an activation named 'predictions'."""
    model = build_child(child, TINY, num_classes=10)
    classifier = classifier_layer(model)
    assert classifier.name in ("predictions", "conv_preds") and not np.any(classifier.kernel.numpy())
    images = np.random.default_rng(0).random((8, 32, 32, 3), dtype=np.float32)
    logits = model(images, training=True).numpy()
    loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)(np.arange(8) % 10, logits)
    assert float(loss) == pytest.approx(math.log(10), rel=1e-5)


@pytest.mark.slow
def test_child_learns_the_synthetic_task_well_above_chance():
    train_ds, val_ds, info = get_datasets("synthetic", image_size=32, batch_size=TINY.batch_size,
                                          val_size=TINY.val_size, max_train=TINY.max_train, seed=0)
    arch = MnasNetSpace().decode(MnasNetSpace().sample(0))
    result = train_child(arch, train_ds, val_ds, TINY, num_classes=info.num_classes)
    assert result.accuracy > 1.5 / info.num_classes, result  # 0.23 seen; chance is 0.1
    assert math.isfinite(result.final_loss) and result.train_seconds > 0


def test_a_diverging_child_raises_child_failed():
    train_ds, val_ds, info = get_datasets("synthetic", image_size=32, batch_size=32, val_size=32, max_train=64,
                                          seed=0)
    task = ProxyTask(dataset="synthetic", epochs=1, batch_size=32, width_multiplier=0.35, learning_rate=float("inf"),
                     warmup_fraction=0.0, run_eagerly=True)
    with pytest.raises(ChildFailed) as err:
        train_child(reference("mnasnet-a1"), train_ds, val_ds, task, num_classes=info.num_classes)
    assert err.value.reason == "diverged"


def test_a_finite_but_exploded_loss_is_divergence_too():
    """A learning rate of 1e30 once gave 'done' children with a final loss of 1.2e30 and a reward."""
    train_ds, val_ds, info = get_datasets("synthetic", image_size=32, batch_size=32, val_size=32, max_train=64,
                                          seed=0)
    task = ProxyTask(dataset="synthetic", epochs=2, batch_size=32, width_multiplier=0.35, learning_rate=1e6,
                     warmup_fraction=0.0, run_eagerly=True)  # at 1e30 the loss overflows to NaN, caught anyway
    with pytest.raises(ChildFailed, match=r"mean training loss .* is above 10 x ln\(10\)") as err:
        train_child(reference("mnasnet-a1"), train_ds, val_ds, task, num_classes=info.num_classes)
    assert err.value.reason == "diverged" and str(err.value).count("diverged") == 1


def test_bad_settings_raise():
    with pytest.raises(ValueError, match="unknown proxy-task settings"):
        ProxyTask.from_dict({"epoch": 3})
    with pytest.raises(ValueError, match="positive"):
        paper_recipe(keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)]), 0, 32)
