"""The tabular-benchmark concept: a search space whose networks' accuracies are looked up, not trained.

A ``TabularBenchmark`` pairs a search space (``decision_sizes``/``decode``/``sample``, like every space) with a
table of recorded results. ``record(arch)`` returns a ``BenchmarkRecord``: the headline accuracy (a fraction), the
individual training runs where the benchmark has several (to model training noise), and the provenance that must
travel with every number taken from it: ``benchmark (NAS-Bench-Macro: mean of 3 CIFAR-10 trainings ...)`` or
``surrogate (gradient boosting on Accel-NASBench ...; held-out Kendall 0.91)``. Searches, benchmarks and notebooks
treat both data sets through this one interface.
"""
from __future__ import annotations

import abc
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np

from mnaslib.labels import Provenance


@dataclass(frozen=True)
class BenchmarkRecord:
    """What a benchmark knows of one network: accuracy (fraction in [0, 1]), its runs, and where they came from."""

    accuracy: float
    provenance: Provenance
    runs: tuple[float, ...] = ()
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not 0.0 <= float(self.accuracy) <= 1.0:
            raise ValueError(f"a benchmark accuracy is a fraction in [0, 1], got {self.accuracy!r}")

    def draw_run(self, rng: np.random.Generator) -> float:
        """One of the recorded training runs, drawn at random (the headline accuracy when there is only one)."""
        return float(self.runs[int(rng.integers(len(self.runs)))]) if self.runs else float(self.accuracy)


class TabularBenchmark(abc.ABC):
    """A search space plus recorded results for (some of) its networks."""

    name: str

    @property
    @abc.abstractmethod
    def space(self) -> Any:
        """The search space (``decision_sizes``, ``decode``, ``sample``) whose networks the table covers."""

    @abc.abstractmethod
    def record(self, arch: Any) -> BenchmarkRecord:
        """The recorded (or surrogate) result of a decoded architecture of ``space``."""

    def accuracy(self, tokens: Sequence[int]) -> float:
        """The headline accuracy of a token sequence."""
        return self.record(self.space.decode(tokens)).accuracy
