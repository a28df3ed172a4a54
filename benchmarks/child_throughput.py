"""Where a proxy child's time goes, and children per hour of the trainer against Keras ``fit``, side by side.

Each of ``--children`` seeded random MnasNet-space children (the profile's proxy task, one thread, as a process
worker trains) is trained by both trainers, in alternating order, for one epoch and for two: the fixed cost of an
epoch (graph tracing and start-up) is ``2 * t(1) - t(2)`` and the steady rate is the images of one epoch over
``t(2) - t(1)``. ``fit`` is today's trainer before ``mnaslib.train_loop`` replaced it: the same model, optimiser,
schedule and loss, compiled and run by ``keras.Model.fit`` / ``evaluate`` on the per-child ``tf.data`` pipeline.

    MNAS_DATA_DIR=/path/to/datasets python benchmarks/child_throughput.py --profile laptop --children 3

``TF_ENABLE_ONEDNN_OPTS=1`` in the environment measures with oneDNN's kernels (mnaslib turns them off by default to
keep their log lines out of notebooks; see ``mnaslib/quiet.py``).
"""
from __future__ import annotations

import argparse
import math
import os
import statistics
import time
from dataclasses import replace

import keras
import tensorflow as tf

from mnaslib.counting import summarize
from mnaslib.profile import load_profile
from mnaslib.reproduce import machine_description
from mnaslib.space import MnasNetSpace
from mnaslib.train import (RMSPROP, ProxyTask, TF1RMSprop, build_child, set_threads, train_child,
                           warmup_exponential_schedule)
from mnaslib.worker import proxy_datasets


def fit_child(arch, train_ds, val_ds, task: ProxyTask, num_classes: int) -> tuple[float, float, float]:
    """The ``fit``-based trainer: (train seconds, eval seconds, accuracy)."""
    keras.utils.set_random_seed(task.seed)
    model = build_child(arch, task, num_classes)
    summarize(model)  # the trainer counts every child too
    steps = int(train_ds.cardinality().numpy())
    total = max(1, steps * task.epochs)
    schedule = warmup_exponential_schedule(task.learning_rate * task.batch_size / 256,
                                           int(task.warmup_fraction * total), max(1.0, total / 10), 0.8, False)
    model.compile(optimizer=TF1RMSprop(schedule, **RMSPROP),
                  loss=keras.losses.CategoricalCrossentropy(from_logits=True, label_smoothing=task.label_smoothing),
                  metrics=[keras.metrics.CategoricalAccuracy(name="accuracy")])

    def one_hot(images, labels):
        return images, tf.one_hot(tf.reshape(tf.cast(labels, tf.int32), [-1]), num_classes)

    start = time.perf_counter()
    model.fit(train_ds.map(one_hot), epochs=task.epochs, verbose=0)
    train = time.perf_counter() - start
    start = time.perf_counter()
    _, accuracy = model.evaluate(val_ds.map(one_hot), verbose=0)
    return train, time.perf_counter() - start, float(accuracy)


def loop_child(arch, train_ds, val_ds, task: ProxyTask, num_classes: int) -> tuple[float, float, float]:
    result = train_child(arch, train_ds, val_ds, task, num_classes)
    return result.train_seconds, result.eval_seconds, result.accuracy


TRAINERS = {"fit (before)": fit_child, "train_loop (now)": loop_child}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="laptop")
    parser.add_argument("--children", type=int, default=3)
    args = parser.parse_args()
    set_threads(1, 1)
    task = ProxyTask.from_dict(load_profile(args.profile).proxy)
    train_ds, val_ds, info = proxy_datasets(task)
    images = info.sizes["train"]
    space = MnasNetSpace()
    times: dict[str, list[dict[str, float]]] = {name: [] for name in TRAINERS}
    for child in range(args.children):
        arch = space.decode(space.sample(child))
        order = list(TRAINERS) if child % 2 == 0 else list(TRAINERS)[::-1]
        for name in order:
            start = time.perf_counter()
            one_train, one_eval, accuracy = TRAINERS[name](arch, train_ds, val_ds, task, int(info.num_classes))
            one_total = time.perf_counter() - start
            two_train, _, _ = TRAINERS[name](arch, train_ds, val_ds, replace(task, epochs=2), int(info.num_classes))
            times[name].append({"child": one_total, "train": one_train, "eval": one_eval, "accuracy": accuracy,
                                "fixed": 2 * one_train - two_train, "steady": images / max(two_train - one_train,
                                                                                           1e-9)})
            print(f"child {child} {name:17s}: {one_total:5.1f} s a child (train {one_train:.1f}, eval "
                  f"{one_eval:.1f}); accuracy {accuracy:.3f}")

    print(f"\nmachine: {machine_description()}; one thread; TF_ENABLE_ONEDNN_OPTS="
          f"{os.environ.get('TF_ENABLE_ONEDNN_OPTS', '0')}")
    print(f"proxy: {task.describe()}; {images} training images an epoch; medians over {args.children} children")
    median = {name: {k: statistics.median(r[k] for r in rows) for k in rows[0]} for name, rows in times.items()}
    for name, m in median.items():
        print(f"  {name:17s} {m['child']:5.1f} s a child = {3600 / m['child']:4.0f} children/hour | first-epoch "
              f"fixed cost {m['fixed']:5.1f} s | steady {m['steady']:4.0f} images/s | eval {m['eval']:.1f} s")
    before, now = (median[name]["child"] for name in TRAINERS)
    print(f"  children per hour, now / before: {before / now:.2f}x at equal training images"
          + ("" if math.isfinite(before / now) else " (not measured)"))


if __name__ == "__main__":
    main()
