"""What the search loop hands an evaluator, and what it gets back: ``Job`` in, ``ChildMetrics`` out.

The loop decodes each sampled architecture once, in the parent, and ships a frozen ``Job`` (trial id, the
architecture itself, the trial's seed) to an executor; an ``Evaluator`` turns it into ``ChildMetrics`` (an accuracy
with its provenance, and what the evaluation cost). Trained children (``mnaslib.evaluation.worker.ProxyEvaluator``) and
tabular benchmarks (``mnaslib.tabular.evaluator.BenchmarkEvaluator``) are both evaluators, so the loop, the store
and the notebooks treat them alike. Nothing here imports TensorFlow.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from mnaslib.spaces.buildable import Buildable

# How a training-free score is named in its provenance label, so that a reader (and ``runs.accuracy_axis``) never
# takes it for an accuracy.
NASWOT_MEASURE = "NASWOT score"


@dataclass(frozen=True)
class Job:
    """One child to evaluate: its trial id (for the store), its architecture and its seed.

    ``store_path`` lets a worker process note in the trial store that it has started the job, so that a worker
    that dies takes only the trial it was really running with it (see ``mnaslib.search.loop``); ``None`` where the
    evaluating process cannot reach the store (a remote cluster).
    """

    trial_id: int
    arch: Buildable
    seed: int
    store_path: str | None = None


@dataclass(frozen=True)
class ChildMetrics:
    """An evaluated child: accuracy (a fraction) with its provenance label, and its costs (``None``: not known)."""

    accuracy: float
    accuracy_provenance: str
    params: int | None = None
    trainable_params: int | None = None
    mult_adds: int | None = None
    train_seconds: float | None = None
    eval_seconds: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not isinstance(self.accuracy, (int, float)) or not math.isfinite(self.accuracy):
            raise ValueError(f"diverged: accuracy is {self.accuracy!r}, not a finite number")
        if not 0.0 <= self.accuracy <= 1.0:
            raise ValueError(f"accuracy must be a fraction in [0, 1], got {self.accuracy!r} (a percentage?)")


@runtime_checkable
class Evaluator(Protocol):
    """``Job -> ChildMetrics``; picklable, because process and cluster executors ship it to their workers."""

    def describe(self) -> str:
        """What an accuracy from this evaluator is, e.g. ``proxy (cifar10 32px, 1 epoch ...)``."""

    def check(self) -> None:
        """Fail now, with one clear error, if every child would fail (bad settings, missing or corrupt data)."""

    def data_source(self) -> dict[str, Any]:
        """Where the accuracies come from (data set and its fingerprint, or the benchmark file), for the run record:
        a resume on other data is refused."""

    def __call__(self, job: Job) -> ChildMetrics:
        ...
