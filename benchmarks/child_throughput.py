"""Where a proxy child's time goes, and children per hour of today's trainer against the one before, side by side.

Each of ``--children`` seeded random MnasNet-space children (the profile's proxy task, one thread, as a process
worker trains) is trained by every arm below, in rotating order, for one epoch and for two: the fixed cost of an
epoch (graph tracing and start-up) is ``2 * t(1) - t(2)`` and the steady rate is the images of one epoch over
``t(2) - t(1)``. Each arm runs in its own process, because oneDNN is chosen when TensorFlow loads:

* ``before``: Keras ``fit`` / ``evaluate`` on the per-child ``tf.data`` pipeline, Keras' own BatchNormalization,
  TensorFlow's default kernels (oneDNN off): a search's child before ``mnaslib.evaluation.train_loop``, the fused batch
  norm and oneDNN in workers.
* ``kernel``: ``mnaslib.evaluation.train.train_child`` (``train_loop``, fused batch norm), oneDNN off: a child trained
  in a notebook kernel or the ``mnas`` process, where mnaslib keeps oneDNN off.
* ``worker``: the same with oneDNN's kernels, as a search's process workers train (``mnaslib.quiet``).

    MNAS_DATA_DIR=/path/to/datasets python benchmarks/child_throughput.py --profile laptop --children 3
"""
from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import time
from dataclasses import replace

import mnaslib  # noqa: F401  first, so that TensorFlow loads with mnaslib's logging defaults
import keras
import tensorflow as tf

from mnaslib.spaces.batchnorm import with_keras_batch_norm
from mnaslib.spaces.counting import summarize
from mnaslib.search.profile import load_profile
from mnaslib.reproduce import machine_description
from mnaslib.spaces.mnasnet import MnasNetSpace
from mnaslib.evaluation.train import (RMSPROP, ProxyTask, TF1RMSprop, build_child, set_threads, train_child,
                                      warmup_exponential_schedule)
from mnaslib.evaluation.worker import proxy_datasets


def fit_child(arch, train_ds, val_ds, task: ProxyTask, num_classes: int) -> tuple[float, float, float]:
    """The ``fit``-based trainer on the child with Keras' own batch norm: (train seconds, eval seconds, accuracy)."""
    keras.utils.set_random_seed(task.seed)
    model = with_keras_batch_norm(build_child(arch, task, num_classes))
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


ARMS = {  # name: (trainer, TF_ENABLE_ONEDNN_OPTS)
    "before": ("fit", "0"),
    "kernel": ("train_loop", "0"),
    "worker": ("train_loop", "1"),
}


def measure_arm(arm: str, profile: str, child: int) -> dict[str, float]:
    """One child trained by ``arm`` in this process for one epoch, then two: seconds, accuracy and the split."""
    set_threads(1, 1)
    task = ProxyTask.from_dict(load_profile(profile).proxy)
    train_ds, val_ds, info = proxy_datasets(task)
    space = MnasNetSpace()
    arch = space.decode(space.sample(child))
    trainer = fit_child if ARMS[arm][0] == "fit" else loop_child
    start = time.perf_counter()
    one_train, one_eval, accuracy = trainer(arch, train_ds, val_ds, task, int(info.num_classes))
    one_total = time.perf_counter() - start
    two_train, _, _ = trainer(arch, train_ds, val_ds, replace(task, epochs=2), int(info.num_classes))
    images = info.sizes["train"]
    return {"child": one_total, "train": one_train, "eval": one_eval, "accuracy": accuracy,
            "fixed": 2 * one_train - two_train, "steady": images / max(two_train - one_train, 1e-9),
            "images": images, "task": task.describe()}


def run_arm(arm: str, profile: str, child: int) -> dict:
    env = {**os.environ, "TF_ENABLE_ONEDNN_OPTS": ARMS[arm][1]}
    done = subprocess.run([sys.executable, __file__, "--profile", profile, "--measure", arm, str(child)], env=env,
                          capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"arm {arm} failed on child {child}:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="laptop")
    parser.add_argument("--children", type=int, default=3)
    parser.add_argument("--measure", nargs=2, metavar=("ARM", "CHILD"), help=argparse.SUPPRESS)  # an arm's process
    args = parser.parse_args()
    if args.measure:
        arm, child = args.measure
        print(json.dumps(measure_arm(arm, args.profile, int(child))))
        return
    times: dict[str, list[dict]] = {arm: [] for arm in ARMS}
    for child in range(args.children):
        names = list(ARMS)
        for arm in names[child % len(names):] + names[:child % len(names)]:
            row = run_arm(arm, args.profile, child)
            times[arm].append(row)
            print(f"child {child} {arm:7s}: {row['child']:5.1f} s a child (train {row['train']:.1f}, eval "
                  f"{row['eval']:.1f}); accuracy {row['accuracy']:.3f}", flush=True)

    first = times["before"][0]
    print(f"\nmachine: {machine_description()}; one thread")
    print(f"proxy: {first['task']}; {first['images']} training images an epoch; medians over {args.children} "
          "children")
    median = {arm: {k: statistics.median(r[k] for r in rows) for k in ("child", "fixed", "steady", "eval")}
              for arm, rows in times.items()}
    for arm, m in median.items():
        trainer, onednn = ARMS[arm]
        setting = f"{arm} ({trainer}, oneDNN {'on' if onednn == '1' else 'off'})"
        print(f"  {setting:34s} {m['child']:5.1f} s a child = "
              f"{3600 / m['child']:4.0f} children/hour | first-epoch fixed cost {m['fixed']:5.1f} s | steady "
              f"{m['steady']:4.0f} images/s | eval {m['eval']:.1f} s")
    for arm in ("kernel", "worker"):
        ratio = median["before"]["child"] / median[arm]["child"]
        print(f"  children per hour, {arm} / before: {ratio:.2f}x at equal training images"
              + ("" if math.isfinite(ratio) else " (not measured)"))


if __name__ == "__main__":
    main()
