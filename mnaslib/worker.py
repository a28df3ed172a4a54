"""What an executor's worker runs for one ``Job``: train the child on the proxy task (``ProxyEvaluator``).

Kept apart from the search loop so that workers import only what training needs; data sets are loaded once per
worker process and reused for every child it trains.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from mnaslib.jobs import ChildMetrics, Job
from mnaslib.train import ProxyTask

_DATASETS: dict[tuple, Any] = {}


def proxy_datasets(task: ProxyTask):
    """``(train_ds, val_ds, info)`` for a proxy task, cached per process (loading and decoding cost seconds)."""
    from mnaslib.data import get_datasets

    key = (task.dataset, task.image_size, task.batch_size, task.max_train, task.val_size, task.data_dir)
    if key not in _DATASETS:
        _DATASETS[key] = get_datasets(task.dataset, image_size=task.image_size, batch_size=task.batch_size,
                                      val_size=task.val_size, max_train=task.max_train, seed=0,
                                      data_dir=task.data_dir)
    return _DATASETS[key]


@dataclass(frozen=True)
class ProxyEvaluator:
    """Train each child briefly on ``task`` and report its held-out accuracy (``proxy``, never ImageNet top-1)."""

    task: ProxyTask

    def describe(self) -> str:
        return f"proxy ({self.task.describe()})"

    def check(self) -> None:
        """Load the data once (a missing or corrupt data set fails here, not once per child)."""
        proxy_datasets(self.task)

    def data_source(self) -> dict[str, Any]:
        """The data set the children train on, with its content fingerprint (``mnaslib.data.data_source``)."""
        from mnaslib.data import data_source

        return data_source(self.task.dataset, self.task.data_dir)

    def __call__(self, job: Job) -> ChildMetrics:
        """Train ``job.arch`` with the trial's seed; raises ``ChildFailed`` (diverged, oom, build) on failure."""
        from mnaslib.train import train_child

        task = replace(self.task, seed=int(job.seed))
        train_ds, val_ds, info = proxy_datasets(task)
        result = train_child(job.arch, train_ds, val_ds, task, num_classes=int(info.num_classes))
        return ChildMetrics(result.accuracy, self.describe(), params=result.total_params,
                            trainable_params=result.trainable_params, mult_adds=result.mult_adds,
                            train_seconds=result.train_seconds, eval_seconds=result.eval_seconds,
                            extra={"proxy": task.describe(), "final_loss": result.final_loss})
