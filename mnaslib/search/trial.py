"""A search's trials and runs as types: what a reader gets back from a trial store (``TrialStore.read``).

A store row is a dict of columns; every reader used to re-derive the same things from it (the status as a string,
the accuracy's provenance from ``extra``, the latency's from a label, the best model by reward), each its own way.
Here they are derived once: a ``Trial`` carries its status as a ``TrialStatus`` and its reward, accuracy and
latency as ``Labelled`` values with a ``Provenance``; a ``Run`` holds the trials with the run's config and seed and
answers ``done()``, ``best()``, ``pareto()`` and ``accuracy_label``. Tables over many trials (``Run.frame``, the
recipes' lists of runs) use the same rule through ``finished`` and ``best_rows``.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Mapping

import pandas as pd

from mnaslib.labels import Labelled, Provenance
from mnaslib.reward import pareto_front

REWARD = Provenance("computed")


class TrialStatus(str, Enum):
    """Where a trial is. ``finished`` is stored as ``"done"``, the word every store since the first has written."""

    pending = "pending"
    running = "running"
    finished = "done"
    failed = "failed"

    def __str__(self) -> str:
        return self.value


UNFINISHED = (TrialStatus.pending, TrialStatus.running)


@dataclass(frozen=True)
class Costs:
    """What a child cost to build and evaluate (``None``: not known, e.g. a table lookup has no training time)."""

    params: int | None = None
    trainable_params: int | None = None
    mult_adds: int | None = None
    train_seconds: float | None = None
    eval_seconds: float | None = None


def provenance_of(row: Mapping[str, Any], what: str) -> Provenance | None:
    """The provenance of a trial's ``what`` (``accuracy`` or ``latency``) from its two columns (``None`` where the
    trial has none yet); ``row`` is a store row or a row of a table of trials."""
    kind, detail = row[f"{what}_kind"], row[f"{what}_detail"]
    return None if kind is None or pd.isna(kind) else Provenance(kind, detail or "")


def _number(value: Any) -> float | None:
    return None if value is None or pd.isna(value) else float(value)


@dataclass(frozen=True)
class Trial:
    """One sampled child and what became of it."""

    id: int
    step: int
    index: int
    tokens: tuple[int, ...]
    arch_id: str
    block_strings: tuple[str, ...]
    status: TrialStatus
    reward: Labelled
    accuracy: Labelled
    latency: Labelled
    costs: Costs = Costs()
    error: str | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> "Trial":
        """A trial from a store row (``TrialStore.trials``, decoded and checked)."""
        accuracy, latency = provenance_of(row, "accuracy"), provenance_of(row, "latency")
        return cls(int(row["id"]), int(row["step"]), int(row["index_in_step"]), tuple(row["tokens"]),
                   str(row["arch_id"]), tuple(row["block_strings"]), TrialStatus(row["status"]),
                   Labelled(_number(row["reward"]), REWARD, "{:.4f}"),
                   Labelled(_number(row["accuracy"]), accuracy, "{:.3f}"),
                   Labelled(_number(row["latency_ms"]), latency, "{:.1f}"),
                   Costs(row["params"], row["trainable_params"], row["mult_adds"], row["train_seconds"],
                         row["eval_seconds"]),
                   row["error"], dict(row["extra"] or {}))

    @property
    def done(self) -> bool:
        return self.status is TrialStatus.finished

    @property
    def unfinished(self) -> bool:
        """Sampled but not yet evaluated (pending or running): what a resume evaluates."""
        return self.status in UNFINISHED

    @property
    def reused_from(self) -> int | None:
        """The trial whose result this one took (an architecture the search had already evaluated)."""
        return self.extra.get("reused_from")


def finished(trials: pd.DataFrame) -> pd.DataFrame:
    """The finished rows of a table of trials (``Run.frame``)."""
    return trials[trials["status"] == TrialStatus.finished.value]


def best_rows(trials: pd.DataFrame, n: int | None = None) -> pd.DataFrame:
    """Finished trials by reward, best first, one per architecture (an architecture sampled again is one model),
    the first ``n`` of them (all with ``None``); ties keep sampling order."""
    done = finished(trials).sort_values("reward", ascending=False, kind="stable").drop_duplicates("arch_id")
    return done if n is None else done.head(n)


def first_provenance(trials: pd.DataFrame, what: str) -> Provenance | None:
    """The provenance of a table's ``what`` (``accuracy`` or ``latency``), from its first finished trial (one
    search labels all its children alike); ``None`` before any has finished."""
    done = finished(trials)
    return None if done.empty else provenance_of(done.iloc[0], what)


def label_of(trials: pd.DataFrame, what: str, default: str = "") -> str:
    """``first_provenance``'s label, or ``default`` before any trial has finished."""
    found = first_provenance(trials, what)
    return default if found is None else found.label


@dataclass(frozen=True)
class Run:
    """A search as stored: its trials in sampling order, the config it (last) ran with, its seed, how many steps
    it completed and its curves."""

    trials: tuple[Trial, ...]
    frame: pd.DataFrame = field(repr=False, compare=False)
    config: Mapping[str, Any] = field(default_factory=dict)
    seed: int | None = None
    steps_done: int = 0
    scalars: pd.DataFrame = field(default_factory=pd.DataFrame, repr=False, compare=False)

    def done(self) -> list[Trial]:
        return [t for t in self.trials if t.done]

    def failed(self) -> list[Trial]:
        return [t for t in self.trials if t.status is TrialStatus.failed]

    def _by_id(self, rows: pd.DataFrame) -> list[Trial]:
        by_id = {t.id: t for t in self.trials}
        return [by_id[int(i)] for i in rows["id"]]

    def best(self, n: int | None = 1) -> list[Trial]:
        """The ``n`` best finished trials by reward (all with ``None``), one per architecture (``best_rows``)."""
        return self._by_id(best_rows(self.frame, n))

    def pareto(self) -> list[Trial]:
        """The finished trials on the accuracy-latency Pareto front, fastest first, one per architecture."""
        done = finished(self.frame).drop_duplicates("arch_id")
        if done.empty:
            return []
        return self._by_id(done.iloc[pareto_front(done["accuracy"].to_numpy(float),
                                                  done["latency_ms"].to_numpy(float))])

    @property
    def accuracy_label(self) -> str:
        """What the run's accuracies are: the provenance label its children's accuracies carry."""
        return label_of(self.frame, "accuracy", "proxy")

    @property
    def latency_label(self) -> str:
        return label_of(self.frame, "latency")
