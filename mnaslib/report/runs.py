"""Reading searches: runs, top models, curves, Pareto fronts, latency spreads and run summaries.

The notebooks call these so a search's results are summarised the same way everywhere (notebook, report, tests).
A search is read once, as a ``mnaslib.search.trial.Run`` (``load_run``); the summaries take its table of trials
(``Run.frame``, one row per trial) so that a recipe's list of runs is summarised by the same functions.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pandas as pd

from mnaslib.errors import UserError
from mnaslib.evaluation.jobs import NASWOT_MEASURE
from mnaslib.search.store import STORE_FILENAME, TrialStore
from mnaslib.labels import Provenance
from mnaslib.search.trial import Run, Trial, TrialStatus, best_rows, finished, first_provenance, label_of
from mnaslib.search.rundir import config_differences


def load_run(run_dir: str | os.PathLike) -> Run:
    """The search in a run directory, read once (``TrialStore.read``); a clear error when there is none."""
    path = Path(run_dir) / STORE_FILENAME
    if not path.exists():
        raise UserError(f"no search in {run_dir}: {path} does not exist (run `mnas search --run-dir {run_dir}`)")
    with TrialStore(path, read_only=True) as store:
        return store.read()


def _labelled_cells(trials: list[Trial]) -> dict[str, list[str]]:
    """The accuracy and latency columns of a table of trials, each cell ``Labelled.render``ed."""
    return {"accuracy": [t.accuracy.render() for t in trials], "latency (ms)": [t.latency.render() for t in trials]}


def best_under(trials: pd.DataFrame, reward: Callable[[np.ndarray, np.ndarray], np.ndarray]) -> Any:
    """The index of the finished trial that ``reward`` (another reward than the one the search used, say) ranks
    first: what the search would have kept had it been scored that way."""
    done = finished(trials)
    return done.index[reward(done["accuracy"].to_numpy(), done["latency_ms"].to_numpy()).argmax()]


def top_models(run: Run, n: int = 5) -> pd.DataFrame:
    """The ``n`` finished trials with the highest reward (``Run.best``), each value labelled with its provenance."""
    rows = best_rows(run.frame, n)
    return pd.DataFrame({
        "id": rows["arch_id"].to_numpy(),
        "reward [computed]": rows["reward"].round(4).to_numpy(),
        **_labelled_cells(run.best(n)),
        "mult-adds (M) [computed, proxy child]": (rows["mult_adds"] / 1e6).round(1).to_numpy(),
        "block strings": rows["block_strings"].map(" ".join).to_numpy(),
    })


def curves(scalars: pd.DataFrame) -> pd.DataFrame:
    """One row per step, one column per scalar tag (mean reward, entropy, failures ...)."""
    if scalars.empty:
        return pd.DataFrame()
    return scalars.pivot_table(index="step", columns="tag", values="value", aggfunc="last")


@dataclass(frozen=True)
class LatencySpread:
    """How a search's samples spread in latency: the numbers behind Figure 6's histograms, with the samples
    themselves (for a bootstrap of any gap) and their latency label (whose stated error is a noise floor)."""

    label: str
    samples: int
    median_ms: float
    iqr_ms: float
    share_below_target: float
    share_below_40ms: float
    share_above_110ms: float
    target_ms: float = float("nan")
    latencies: np.ndarray = field(default_factory=lambda: np.empty(0), repr=False, compare=False)
    latency_label: str = ""


def latency_spread(trials: pd.DataFrame, target_ms: float, label: str) -> LatencySpread:
    """How a search's finished samples (a table of trials, ``Run.frame``) spread in latency."""
    lat = finished(trials)["latency_ms"].to_numpy(dtype=float)
    if lat.size == 0:
        raise UserError(f"search {label!r} has no finished trials to summarise")
    q1, q3 = np.percentile(lat, [25, 75])
    return LatencySpread(label, int(lat.size), float(np.median(lat)), float(q3 - q1),
                         float(np.mean(lat <= target_ms)), float(np.mean(lat < 40)), float(np.mean(lat > 110)),
                         target_ms, lat, label_of(trials, "latency"))


def where_it_settles(trials: pd.DataFrame, label: str, n: int = 5) -> dict:
    """Where a search ended up in latency: its ``n`` best-reward networks (range), the median of all its samples
    and of its last quarter (where the controller has converged), with the latency's provenance."""
    done = finished(trials)
    if done.empty:
        raise ValueError(f"search {label!r} has no finished trials to summarise")
    best = best_rows(trials, n)["latency_ms"]
    last = done.sort_values("id").tail(max(1, len(done) // 4))["latency_ms"]
    unit = f" (ms) [{label_of(trials, 'latency')}]"
    return {"search": label, "samples": len(done),
            f"{n} best-reward networks{unit}": f"{best.min():.1f}-{best.max():.1f}",
            f"median of samples{unit}": round(float(done["latency_ms"].median()), 1),
            f"median of the last quarter{unit}": round(float(last.median()), 1)}


@dataclass(frozen=True)
class RunSummary:
    """What a finished (or running) search holds, for ``mnas runs show`` and ``mnas search``'s closing lines."""

    run_dir: Path
    run: Run

    @property
    def config(self) -> dict:
        return dict(self.run.config)

    @property
    def steps_done(self) -> int:
        return self.run.steps_done

    @property
    def done(self) -> pd.DataFrame:
        return finished(self.run.frame)

    def counts(self) -> dict[str, int]:
        trials = self.run.trials
        statuses = {status: sum(t.status is status for t in trials) for status in TrialStatus}
        return {"trials": len(trials), "done": statuses[TrialStatus.finished], "failed": statuses[TrialStatus.failed],
                "unfinished": statuses[TrialStatus.pending] + statuses[TrialStatus.running],
                "reused": sum(bool(t.reused_from) for t in self.run.done()),
                "distinct architectures": len({t.arch_id for t in trials})}

    def best(self, n: int = 5) -> pd.DataFrame:
        return top_models(self.run, n)

    def pareto(self) -> pd.DataFrame:
        """The accuracy-latency Pareto front of the finished trials, fastest first, cells labelled."""
        front = self.run.pareto()
        return pd.DataFrame({"id": [t.arch_id for t in front], **_labelled_cells(front),
                             "reward [computed]": pd.Series([t.reward.value for t in front], dtype=float).round(4)})

    def failures(self) -> pd.DataFrame:
        failed = self.run.failed()
        return pd.DataFrame({"trial": [t.id for t in failed], "step": [t.step for t in failed],
                             "reason": [str(t.error).splitlines()[0] for t in failed]})


def summarize_run(run_dir: str | os.PathLike) -> RunSummary:
    """Read a run directory's store into a ``RunSummary`` (a clear error when there is none)."""
    return RunSummary(Path(run_dir), load_run(run_dir))


def compare_runs(first: RunSummary, second: RunSummary) -> pd.DataFrame:
    """Two searches side by side: what differs in their settings, and what each found (one search per column:
    a comparison of two single runs is not a claim; see ``mnaslib.report.verdicts.verdict``)."""
    rows = [{"": f"setting {key}", "first": old, "second": new}
            for key, (old, new) in config_differences(first.config, second.config, ()).items()]
    for summary_row in ("trials", "done", "failed", "reused", "distinct architectures"):
        rows.append({"": summary_row, "first": first.counts()[summary_row], "second": second.counts()[summary_row]})
    for label, column, best in (("best reward", "reward", max), ("best accuracy", "accuracy", max),
                                ("median latency (ms)", "latency_ms", None)):
        values = []
        for summary in (first, second):
            series = summary.done[column].dropna()
            values.append("-" if series.empty else round(float(best(series) if best else series.median()), 4))
        rows.append({"": label, "first": values[0], "second": values[1]})
    return pd.DataFrame(rows)


def accuracy_axis(trials: pd.DataFrame) -> str:
    """What a run's ``accuracy`` column is, for an axis: ``accuracy [proxy]``, ``NASWOT score [proxy]`` (a search
    whose children were scored at initialisation, ``evaluator: naswot``) or ``accuracy [surrogate]``."""
    found = first_provenance(trials, "accuracy") or Provenance("proxy")
    scored = found.kind == "proxy" and found.detail.startswith(NASWOT_MEASURE)
    return f"{NASWOT_MEASURE if scored else 'accuracy'} [{found.kind}]"
