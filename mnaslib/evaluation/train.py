"""Train children on the proxy task, and the paper's full ImageNet recipe for a found model.

The proxy trainer is what the search calls for every sampled architecture: build the child at the proxy's input size
and width, train it briefly with RMSProp (the optimiser family of the paper), and report its accuracy on a validation
split held out from the training set, with params, mult-adds and wall time. A child whose loss diverges raises
``ChildFailed`` so the search records a failed trial instead of poisoning the controller with a NaN reward.
"""
from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass

import keras
import tensorflow as tf

from mnaslib.spaces.arch import Arch
from mnaslib.spaces.buildable import BuildOptions, Buildable
from mnaslib.spaces.counting import summarize
from mnaslib.evaluation.fidelity import fidelity_note
from mnaslib.spaces.netsize import check_network_size
from mnaslib.registry import parse_options
from mnaslib.evaluation import train_loop

RMSPROP = {"rho": 0.9, "momentum": 0.9, "epsilon": 1e-3}  # the official code's RMSProp settings
# A child's training loss starts at ln(classes) (zeroed classifier); ten times that at the end is divergence, however
# finite (a bad initialisation was seen to reach 2x, never more).
DIVERGED_LOSS_FACTOR = 10.0


@keras.saving.register_keras_serializable(package="mnaslib")
class TF1RMSprop(keras.optimizers.RMSprop):
    """RMSProp as the official code ran it (``tf.compat.v1.train.RMSPropOptimizer``): mean squares start at 1.

    Keras starts them at 0, so the first steps move every weight by about ``lr / sqrt(1 - rho)`` = 3.2 ``lr``
    whatever its gradient, and momentum adds them up: A1 on CIFAR-10 went from a loss of 2.3 to 4-5 in its first
    epoch and a short proxy run ended near chance. Starting at 1, early steps are ``lr * gradient``, as in TF1.
    """

    def add_variable_from_reference(self, reference_variable, name=None, initializer="zeros"):
        # Created with their value (an assign after creation is lost when fit() builds the optimizer symbolically).
        if name == "velocity":
            initializer = "ones"
        return super().add_variable_from_reference(reference_variable, name=name, initializer=initializer)


class ChildFailed(RuntimeError):
    """A child could not be evaluated (diverged, out of memory, failed to build); ``reason`` says which."""

    def __init__(self, reason: str, message: str):
        super().__init__(f"{reason}: {message}")
        self.reason = reason


@dataclass(frozen=True)
class ProxyTask:
    """Settings of the proxy task (the paper: 5 ImageNet epochs at 224; ours is smaller, and labelled so)."""

    dataset: str = "cifar10"
    image_size: int = 32
    epochs: int = 1
    batch_size: int = 128
    max_train: int | None = None
    val_size: int = 1000
    width_multiplier: float = 1.0
    learning_rate: float = 0.016  # per 256 images, as in the official recipe
    warmup_fraction: float = 0.1
    label_smoothing: float = 0.1
    bn_momentum: float = 0.9  # the official 0.99 leaves BN statistics near their start after a few hundred steps
    stem_stride: int | None = None  # None: 1 for inputs of 64 pixels or less, else 2
    seed: int = 0
    data_dir: str | None = None
    run_eagerly: bool = False  # skip graph tracing: faster for the few steps of a ci child, slower for real runs

    @classmethod
    def from_dict(cls, config: dict) -> "ProxyTask":
        return parse_options(cls, config, "proxy-task")

    def describe(self) -> str:
        """The label that goes with every proxy accuracy, so it is never mistaken for the paper's ImageNet top-1:
        the task, and how well it was measured to rank networks (``mnaslib.evaluation.fidelity``)."""
        data = f"{self.dataset}" + (f"[{self.max_train} train]" if self.max_train else "")
        return (f"{data} {self.image_size}px, {self.epochs} epoch{'s' * (self.epochs != 1)}, batch {self.batch_size}, "
                f"width x{self.width_multiplier:g}, val {self.val_size} held out of train; "
                f"{fidelity_note(self.to_dict())}")

    def to_dict(self) -> dict:
        return asdict(self)

    @property
    def resolved_stem_stride(self) -> int:
        return self.stem_stride if self.stem_stride is not None else (1 if self.image_size <= 64 else 2)


@dataclass(frozen=True)
class ChildResult:
    accuracy: float
    trainable_params: int
    total_params: int
    mult_adds: int
    train_seconds: float
    eval_seconds: float
    final_loss: float


def warmup_exponential_schedule(peak: float, warmup_steps: int, decay_steps: float, decay_rate: float,
                                staircase: bool = True) -> keras.optimizers.schedules.LearningRateSchedule:
    """Linear warm-up to ``peak``, then ``peak * decay_rate ** (step / decay_steps)`` counted from step 0 (as the
    official code does)."""
    return _WarmupExponential(peak, warmup_steps, decay_steps, decay_rate, staircase)


@keras.saving.register_keras_serializable(package="mnaslib")
class _WarmupExponential(keras.optimizers.schedules.LearningRateSchedule):
    def __init__(self, peak: float, warmup_steps: int, decay_steps: float, decay_rate: float, staircase: bool):
        self.peak, self.warmup_steps = float(peak), int(warmup_steps)
        self.decay_steps, self.decay_rate, self.staircase = float(decay_steps), float(decay_rate), bool(staircase)

    def __call__(self, step):
        step = tf.cast(step, tf.float32)
        exponent = step / self.decay_steps
        if self.staircase:
            exponent = tf.floor(exponent)
        decayed = self.peak * tf.pow(self.decay_rate, exponent)
        if self.warmup_steps <= 0:
            return decayed
        warm = self.peak * step / float(self.warmup_steps)
        return tf.where(step < self.warmup_steps, warm, decayed)

    def get_config(self) -> dict:
        return {"peak": self.peak, "warmup_steps": self.warmup_steps, "decay_steps": self.decay_steps,
                "decay_rate": self.decay_rate, "staircase": self.staircase}


def build_child(arch: Buildable, task: ProxyTask, num_classes: int) -> keras.Model:
    """The proxy-size child: the architecture at the proxy's resolution, width and number of classes.

    BN momentum is lowered to ``task.bn_momentum``: a proxy child trains for only a few hundred steps, and with the
    official 0.99 its moving statistics stay near their initial values, so inference-mode validation accuracy
    would measure the BN warm-up rather than the architecture (we saw 9% instead of 50% on a 10-class toy task).

    The classifier starts at zero. The official init, U(+-1/sqrt(classes)), is sized for 1000 classes; with 10 it
    gives training-mode logits a standard deviation near 4 (a first loss of 5.6 against ln 10 = 2.3 for A1 on
    CIFAR-10), and a proxy of a few hundred steps spends itself recovering: every child then scored near chance.
    """
    options = BuildOptions(depth_multiplier=task.width_multiplier, input_size=task.image_size,
                           num_classes=num_classes, stem_stride=task.resolved_stem_stride, logits=True)
    try:
        if isinstance(arch, Arch):
            check_network_size(arch, options)  # before TensorFlow would exhaust the memory trying
        model = arch.build(options)
    except (ValueError, tf.errors.OpError) as err:
        raise ChildFailed("build", str(err)) from err
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.momentum = task.bn_momentum
    classifier = classifier_layer(model)
    classifier.kernel.assign(tf.zeros_like(classifier.kernel))
    return model


def classifier_layer(model: keras.Model) -> keras.layers.Layer:
    """The last layer with weights: the Dense classifier, or Keras MobileNet V1's 1x1 conv ('conv_preds')."""
    return next(layer for layer in reversed(model.layers) if hasattr(layer, "kernel"))


def train_child(arch: Buildable, train_ds: tf.data.Dataset, val_ds: tf.data.Dataset, task: ProxyTask,
                num_classes: int) -> ChildResult:
    """Train one child on the proxy task and return its held-out accuracy and costs.

    The pipelines are read into memory once per process and trained on by ``mnaslib.evaluation.train_loop`` (a compiled
    step over full batches; see there for why not ``fit``).
    Raises ``ChildFailed`` with reason ``diverged`` (a non-finite loss, or a last epoch's loss above
    ``DIVERGED_LOSS_FACTOR`` x ln(classes): training starts at ln(classes) and a finite 1e30 is no model), ``oom``
    (resource exhausted) or ``build``.
    """
    keras.utils.set_random_seed(task.seed)
    images, labels = train_loop.dataset_tensors(train_ds)
    val_images, val_labels = train_loop.dataset_tensors(val_ds)
    model = build_child(arch, task, num_classes)
    counts = summarize(model)
    steps = train_loop.steps_per_epoch(int(images.shape[0]), task.batch_size)
    total_steps = max(1, steps * task.epochs)
    peak = task.learning_rate * task.batch_size / 256
    schedule = warmup_exponential_schedule(peak, int(task.warmup_fraction * total_steps),
                                           decay_steps=max(1.0, total_steps / 10), decay_rate=0.8, staircase=False)
    optimizer = TF1RMSprop(schedule, **RMSPROP)
    optimizer.build(model.trainable_variables)
    loss_fn = keras.losses.CategoricalCrossentropy(from_logits=True, label_smoothing=task.label_smoothing)
    start = time.perf_counter()
    try:
        losses = train_loop.fit_epochs(model, optimizer, loss_fn, images, labels, num_classes=num_classes,
                                       epochs=task.epochs, batch_size=task.batch_size, seed=task.seed,
                                       eager=task.run_eagerly)
    except tf.errors.ResourceExhaustedError as err:
        raise ChildFailed("oom", f"out of memory while training: {err.message[:200]}") from err
    train_seconds = time.perf_counter() - start
    if not all(math.isfinite(v) for v in losses):
        raise ChildFailed("diverged", f"training loss became non-finite (mean loss per epoch: {losses})")
    ceiling = DIVERGED_LOSS_FACTOR * math.log(num_classes)
    if losses[-1] > ceiling:
        raise ChildFailed("diverged", f"the last epoch's mean training loss {losses[-1]:.3g} is above "
                                      f"{DIVERGED_LOSS_FACTOR:g} x ln({num_classes}) = {ceiling:.3g}, where the "
                                      "zeroed classifier starts it (a learning rate far too high?)")
    start = time.perf_counter()
    accuracy = train_loop.accuracy(model, val_images, val_labels, eager=task.run_eagerly)
    eval_seconds = time.perf_counter() - start
    return ChildResult(float(accuracy), counts["trainable_params"], counts["total_params"], counts["mult_adds"],
                       train_seconds, eval_seconds, float(losses[-1]))


def paper_recipe(model: keras.Model, steps_per_epoch: int, batch_size: int, epochs: int = 350,
                 weight_decay: float = 1e-5) -> keras.Model:
    """Compile ``model`` with the official MnasNet ImageNet recipe (tensorflow/tpu ``mnasnet_main.py``), for training
    a found model longer: RMSProp (decay 0.9, momentum 0.9, eps 1e-3), 0.016 per 256 images with 5 warm-up epochs
    then x0.97 every 2.4 epochs (staircase, from step 0), weight EMA 0.9999, L2 weight decay 1e-5 on non-BN
    weights, label smoothing 0.1. Returns the model, compiled; its dropout (0.2) is set by the builder.
    """
    if steps_per_epoch < 1 or batch_size < 1 or epochs < 1:
        raise ValueError("steps_per_epoch, batch_size and epochs must be positive")
    peak = 0.016 * batch_size / 256
    schedule = warmup_exponential_schedule(peak, 5 * steps_per_epoch, 2.4 * steps_per_epoch, 0.97, staircase=True)
    for layer in model.layers:
        if isinstance(layer, (keras.layers.Conv2D, keras.layers.Dense)):  # DepthwiseConv2D is a Conv2D subclass
            layer.kernel.regularizer = keras.regularizers.L2(weight_decay / 2)  # official: wd * sum(w^2) / 2
    model.compile(optimizer=TF1RMSprop(schedule, use_ema=True, ema_momentum=0.9999, **RMSPROP),
                  loss=keras.losses.CategoricalCrossentropy(from_logits=True, label_smoothing=0.1),
                  metrics=[keras.metrics.CategoricalAccuracy(name="top1"),
                           keras.metrics.TopKCategoricalAccuracy(5, name="top5")])
    return model


def set_threads(intra_op: int = 1, inter_op: int = 1) -> None:
    """Pin TensorFlow's thread pools; workers of a process pool each take one core."""
    try:
        tf.config.threading.set_intra_op_parallelism_threads(intra_op)
        tf.config.threading.set_inter_op_parallelism_threads(inter_op)
    except RuntimeError:
        pass  # already initialised in this process: the pools keep their size

