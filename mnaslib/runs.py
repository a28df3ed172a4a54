"""Reading searches: trial tables, top models, curves, Pareto fronts, latency spreads and run summaries.

The notebooks call these so a search's results are summarised the same way everywhere (notebook, report, tests).
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from mnaslib.errors import UserError
from mnaslib.jobs import NASWOT_MEASURE
from mnaslib.reward import pareto_front
from mnaslib.store import STORE_FILENAME, TrialStore


def load_run(run_dir: str | os.PathLike) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``(trials, scalars)`` of a run directory; raises a clear error when there is no store."""
    path = Path(run_dir) / STORE_FILENAME
    if not path.exists():
        raise UserError(f"no search in {run_dir}: {path} does not exist (run `mnas search --run-dir {run_dir}`)")
    store = TrialStore(path, read_only=True)
    try:
        return store.dataframe(), store.scalars()
    finally:
        store.close()


def top_models(trials: pd.DataFrame, n: int = 5) -> pd.DataFrame:
    """The ``n`` finished trials with the highest reward, each value labelled with its provenance."""
    done = trials[trials["status"] == "done"].sort_values("reward", ascending=False)
    done = done.drop_duplicates("arch_id").head(n)  # an architecture sampled again is one model
    return pd.DataFrame({
        "id": done["arch_id"].to_numpy(),
        "reward [computed]": done["reward"].round(4).to_numpy(),
        "accuracy": [f"{a:.3f} [{accuracy_label(e)}]" for a, e in zip(done["accuracy"], done["extra"])],
        "latency (ms)": [f"{lat:.1f} [{prov}]" for lat, prov in zip(done["latency_ms"], done["latency_provenance"])],
        "mult-adds (M) [computed, proxy child]": (done["mult_adds"] / 1e6).round(1).to_numpy(),
        "block strings": done["block_strings"].map(" ".join).to_numpy(),
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
    done = trials[trials["status"] == "done"]
    lat = done["latency_ms"].to_numpy(dtype=float)
    if lat.size == 0:
        raise UserError(f"search {label!r} has no finished trials to summarise")
    q1, q3 = np.percentile(lat, [25, 75])
    provenance = str(done["latency_provenance"].iloc[0]) if "latency_provenance" in done else ""
    return LatencySpread(label, int(lat.size), float(np.median(lat)), float(q3 - q1),
                         float(np.mean(lat <= target_ms)), float(np.mean(lat < 40)), float(np.mean(lat > 110)),
                         target_ms, lat, provenance)


def where_it_settles(trials: pd.DataFrame, label: str, n: int = 5) -> dict:
    """Where a search ended up in latency: its ``n`` best-reward networks (range), the median of all its samples
    and of its last quarter (where the controller has converged), with the latency's provenance."""
    done = trials[trials["status"] == "done"]
    if done.empty:
        raise ValueError(f"search {label!r} has no finished trials to summarise")
    best = done.sort_values("reward", ascending=False).drop_duplicates("arch_id").head(n)["latency_ms"]
    last = done.sort_values("id").tail(max(1, len(done) // 4))["latency_ms"]
    unit = f" (ms) [{done['latency_provenance'].iloc[0]}]"
    return {"search": label, "samples": len(done),
            f"{n} best-reward networks{unit}": f"{best.min():.1f}-{best.max():.1f}",
            f"median of samples{unit}": round(float(done["latency_ms"].median()), 1),
            f"median of the last quarter{unit}": round(float(last.median()), 1)}


def front(trials: pd.DataFrame) -> pd.DataFrame:
    """The finished trials on the accuracy-latency Pareto front, fastest first."""
    done = trials[trials["status"] == "done"].drop_duplicates("arch_id").reset_index(drop=True)
    if done.empty:
        return done
    return done.iloc[pareto_front(done["accuracy"].to_numpy(float), done["latency_ms"].to_numpy(float))]


@dataclass(frozen=True)
class RunSummary:
    """What a finished (or running) search holds, for ``mnas runs show`` and ``mnas search``'s closing lines."""

    run_dir: Path
    config: dict
    trials: pd.DataFrame
    steps_done: int

    @property
    def done(self) -> pd.DataFrame:
        return self.trials[self.trials["status"] == "done"]

    @property
    def failed(self) -> pd.DataFrame:
        return self.trials[self.trials["status"] == "failed"]

    @property
    def reused(self) -> int:
        return int(self.done["extra"].map(lambda e: bool((e or {}).get("reused_from"))).sum())

    def counts(self) -> dict[str, int]:
        statuses = self.trials["status"].value_counts().to_dict()
        return {"trials": len(self.trials), "done": statuses.get("done", 0), "failed": statuses.get("failed", 0),
                "unfinished": statuses.get("pending", 0) + statuses.get("running", 0), "reused": self.reused,
                "distinct architectures": int(self.trials["arch_id"].nunique())}

    def best(self, n: int = 5) -> pd.DataFrame:
        return top_models(self.trials, n)

    def pareto(self) -> pd.DataFrame:
        """The accuracy-latency Pareto front of the finished trials, fastest first, cells labelled."""
        front_trials = front(self.trials)
        return pd.DataFrame({"id": front_trials["arch_id"].to_numpy(),
                             "accuracy": [f"{a:.3f} [{accuracy_label(e)}]" for a, e in
                                          zip(front_trials["accuracy"], front_trials["extra"])],
                             "latency (ms)": [f"{lat:.1f} [{prov}]" for lat, prov in
                                              zip(front_trials["latency_ms"], front_trials["latency_provenance"])],
                             "reward [computed]": front_trials["reward"].round(4).to_numpy()})

    def failures(self) -> pd.DataFrame:
        failed = self.failed
        return pd.DataFrame({"trial": failed["id"].to_numpy(), "step": failed["step"].to_numpy(),
                             "reason": failed["error"].map(lambda e: str(e).splitlines()[0]).to_numpy()})


def summarize_run(run_dir: str | os.PathLike) -> RunSummary:
    """Read a run directory's store into a ``RunSummary`` (a clear error when there is none)."""
    path = Path(run_dir) / STORE_FILENAME
    if not path.exists():
        raise UserError(f"no search in {run_dir}: {path} does not exist (run `mnas search --run-dir {run_dir}`)")
    with TrialStore(path, read_only=True) as store:
        runs, trials, saved = store.runs(), store.dataframe(), store.latest_strategy_state()
    return RunSummary(Path(run_dir), runs[-1]["config"] if runs else {}, trials, 0 if saved is None else saved[0] + 1)


def compare_runs(first: RunSummary, second: RunSummary) -> pd.DataFrame:
    """Two searches side by side: what differs in their settings, and what each found (one search per column:
    a comparison of two single runs is not a claim; see ``mnaslib.verdicts.verdict``)."""
    from mnaslib.rundir import config_differences

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


def accuracy_label(extra) -> str:
    """The provenance of a trial's accuracy from its ``extra`` (older stores kept only the proxy task's label)."""
    extra = extra or {}
    return extra.get("accuracy_provenance") or f"proxy ({extra.get('proxy', 'proxy task')})"


def accuracy_axis(trials: pd.DataFrame) -> str:
    """What a run's ``accuracy`` column is, for an axis: ``accuracy [proxy]``, ``NASWOT score [proxy]`` (a search
    whose children were scored at initialisation, ``evaluator: naswot``) or ``accuracy [surrogate]``."""
    done = trials[trials["status"] == "done"]
    label = accuracy_label(done["extra"].iloc[0]) if len(done) else "proxy"
    what = NASWOT_MEASURE if label.startswith(f"proxy ({NASWOT_MEASURE}") else "accuracy"
    return f"{what} [{label.split(' ', 1)[0]}]"
