"""Worker-side evaluation of one sampled child on the proxy task (runs inside executor processes).

Kept apart from the search loop so that workers import only what training needs; datasets are loaded once per
worker process and reused for every child it trains.
"""
from __future__ import annotations

from typing import Any

from mnaslib.train import ProxyTask, train_child

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


def evaluate_child(job: dict) -> dict:
    """Train the child described by ``job`` (tokens, space config, proxy settings, trial seed); return metrics.

    Raises ``ChildFailed`` (diverged, oom, build); the search loop records it as a failed trial.
    """
    from mnaslib.search import make_space

    space = make_space(job.get("space", {}))
    arch = space.decode(job["tokens"])
    task = ProxyTask.from_dict({**job.get("proxy", {}), "seed": int(job.get("trial_seed", 0))})
    train_ds, val_ds, info = proxy_datasets(task)
    result = train_child(arch, train_ds, val_ds, task, num_classes=int(info.num_classes))
    return {"accuracy": result.accuracy, "params": result.total_params, "trainable_params": result.trainable_params,
            "mult_adds": result.mult_adds, "train_seconds": result.train_seconds,
            "eval_seconds": result.eval_seconds, "extra": {"proxy": task.describe(), "final_loss": result.final_loss}}
