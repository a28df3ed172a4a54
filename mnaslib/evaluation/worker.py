"""What an executor's worker runs for one ``Job``: train the child on the proxy task (``ProxyEvaluator``), or score
it at initialisation without training (``ZeroCostEvaluator``).

Kept apart from the search loop so that workers import only what training needs; data sets are loaded once per
worker process and reused for every child it trains.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, replace
from typing import Any

from mnaslib.evaluation.fidelity import zero_cost_note
from mnaslib.evaluation.jobs import NASWOT_MEASURE, ChildMetrics, Job
from mnaslib.seeds import image_batch_seed, split_seed
from mnaslib.evaluation.train import ProxyTask, build_child, train_child
from mnaslib.evaluation.data import get_datasets, data_source
from mnaslib.evaluation.train_loop import dataset_tensors
from mnaslib.spaces.counting import summarize
from mnaslib.evaluation.zerocost import log_determinant, naswot_kernel, naswot_score

_DATASETS: dict[tuple, Any] = {}


def proxy_datasets(task: ProxyTask):
    """``(train_ds, val_ds, info)`` for a proxy task whose ``seed`` is the run's, cached per process (loading and
    decoding cost seconds); the held-out split is drawn from ``seeds.split_seed`` of it, so every child of a run
    is judged on the same images."""
    split = split_seed(task.seed)
    key = (task.dataset, task.image_size, task.batch_size, task.max_train, task.val_size, task.data_dir, split)
    if key not in _DATASETS:
        _DATASETS[key] = get_datasets(task.dataset, image_size=task.image_size, batch_size=task.batch_size,
                                      val_size=task.val_size, max_train=task.max_train, seed=split,
                                      data_dir=task.data_dir)
    return _DATASETS[key]


@dataclass(frozen=True)
class ProxyEvaluator:
    """Train each child briefly on ``task`` and report its held-out accuracy (``proxy``, never ImageNet top-1)."""

    task: ProxyTask  # its seed is the run's; each child trains with its trial's (``Job.seed``)

    def describe(self) -> str:
        return f"proxy ({self.task.describe()})"

    def check(self) -> None:
        """Load the data once (a missing or corrupt data set fails here, not once per child)."""
        proxy_datasets(self.task)

    def data_source(self) -> dict[str, Any]:
        """The data set the children train on, with its content fingerprint
        (``mnaslib.evaluation.data.data_source``)."""
        return data_source(self.task.dataset, self.task.data_dir)

    def __call__(self, job: Job) -> ChildMetrics:
        """Train ``job.arch`` with the trial's seed; raises ``ChildFailed`` (diverged, oom, build) on failure."""
        task = replace(self.task, seed=int(job.seed))
        train_ds, val_ds, info = proxy_datasets(self.task)
        result = train_child(job.arch, train_ds, val_ds, task, num_classes=int(info.num_classes))
        return ChildMetrics(result.accuracy, self.describe(), params=result.total_params,
                            trainable_params=result.trainable_params, mult_adds=result.mult_adds,
                            train_seconds=result.train_seconds, eval_seconds=result.eval_seconds,
                            extra={"proxy": task.describe(), "final_loss": result.final_loss})


@dataclass(frozen=True)
class ZeroCostEvaluator(ProxyEvaluator):
    """Score each child at initialisation, without training: NASWOT on a fixed scale (``zerocost.naswot_score``)
    on a seeded batch of ``images`` training images of the proxy's data set, the child built at the proxy's
    resolution and at ``width_multiplier`` (1.0: as its rank fidelity was measured).

    Why: on NAS-Bench-Macro this score ranked networks far better than any trained child a laptop affords, at about
    2 s a child against 20-80 s (``benchmarks/proxy_fidelity.py``; the README's table). The score is in [0, 1] so
    that the reward can take it in place of an accuracy; it is labelled a score, never an accuracy.
    """

    images: int = 64
    width_multiplier: float = 1.0

    def __post_init__(self) -> None:
        if self.images < 2:
            raise ValueError(f"evaluator.images must be >= 2 (NASWOT compares images), got {self.images}")
        if not 0 < self.width_multiplier < float("inf"):
            raise ValueError(f"evaluator.width_multiplier must be a positive number, got {self.width_multiplier}")

    def describe(self) -> str:
        return (f"proxy ({NASWOT_MEASURE} at initialisation, not an accuracy: {self.task.dataset} "
                f"{self.task.image_size}px, {self.images} training images, width x{self.width_multiplier:g}; "
                f"{zero_cost_note('naswot', self.settings())})")

    def check(self) -> None:
        """Load the data once, and refuse a batch larger than the training split."""
        count = int(dataset_tensors(proxy_datasets(self.task)[0])[0].shape[0])
        if count < self.images:
            raise ValueError(f"evaluator.images is {self.images} but the proxy's training split holds {count} "
                             "images; lower evaluator.images or raise proxy.max_train")

    def settings(self) -> dict[str, Any]:
        """What the score depends on, as ``mnaslib.evaluation.fidelity`` matches it against the measured settings."""
        return {"dataset": self.task.dataset, "image_size": self.task.image_size,
                "width_multiplier": self.width_multiplier, "images": self.images}

    def __call__(self, job: Job) -> ChildMetrics:
        """Score ``job.arch`` at the trial's seed (its initialisation and its batch of images)."""
        import keras
        import numpy as np

        train_ds, _, info = proxy_datasets(self.task)
        images, _ = dataset_tensors(train_ds)
        draw = np.random.default_rng(image_batch_seed(int(job.seed)))
        picked = draw.choice(int(images.shape[0]), self.images, replace=False)
        keras.utils.set_random_seed(int(job.seed))
        start = time.perf_counter()
        # The proxy child's zeroed classifier does not matter here: NASWOT reads only the ReLU activations.
        model = build_child(job.arch, replace(self.task, width_multiplier=self.width_multiplier),
                            int(info.num_classes))
        kernel, units = naswot_kernel(model, images.numpy()[picked])
        logdet = log_determinant(kernel)
        counts = summarize(model)
        return ChildMetrics(naswot_score(logdet, self.images), self.describe(), params=counts["total_params"],
                            trainable_params=counts["trainable_params"], mult_adds=counts["mult_adds"],
                            train_seconds=0.0, eval_seconds=time.perf_counter() - start,
                            extra={"proxy": self.describe(), "relu_units": units,
                                   "naswot_logdet": logdet if math.isfinite(logdet) else None})
