"""Reading finished searches: trial tables, top models, curves and the Figure 6 claim check.

The notebooks call these so a search's results are summarised the same way everywhere (notebook, report, tests).
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from mnaslib.reward import pareto_front
from mnaslib.store import STORE_FILENAME, TrialStore


def load_run(run_dir: str | os.PathLike) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``(trials, scalars)`` of a run directory; raises a clear error when there is no store."""
    path = Path(run_dir) / STORE_FILENAME
    if not path.exists():
        raise ValueError(f"no search in {run_dir}: {path} does not exist (run `mnas search --run-dir {run_dir}`)")
    store = TrialStore(path)
    try:
        return store.dataframe(), store.scalars()
    finally:
        store.close()


def top_models(trials: pd.DataFrame, n: int = 5) -> pd.DataFrame:
    """The ``n`` finished trials with the highest reward, each value labelled with its provenance."""
    done = trials[trials["status"] == "done"].sort_values("reward", ascending=False).head(n)
    proxy = done["extra"].map(lambda e: (e or {}).get("proxy", "proxy task"))
    return pd.DataFrame({
        "id": done["arch_id"].to_numpy(),
        "reward [computed]": done["reward"].round(4).to_numpy(),
        "accuracy": [f"{a:.3f} [proxy: {p}]" for a, p in zip(done["accuracy"], proxy)],
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
    """How a search's samples spread in latency: the numbers behind Figure 6's histograms."""

    label: str
    samples: int
    median_ms: float
    iqr_ms: float
    share_below_target: float
    share_below_40ms: float
    share_above_110ms: float


def latency_spread(trials: pd.DataFrame, target_ms: float, label: str) -> LatencySpread:
    done = trials[trials["status"] == "done"]
    lat = done["latency_ms"].to_numpy(dtype=float)
    if lat.size == 0:
        raise ValueError(f"search {label!r} has no finished trials to summarise")
    q1, q3 = np.percentile(lat, [25, 75])
    return LatencySpread(label, int(lat.size), float(np.median(lat)), float(q3 - q1),
                         float(np.mean(lat <= target_ms)), float(np.mean(lat < 40)), float(np.mean(lat > 110)))


def figure6_check(hard: LatencySpread, soft: LatencySpread) -> pd.DataFrame:
    """The paper's Figure 6 claim, tested on our two searches: the hard constraint crowds samples into faster models
    (more of them at or below T, lower median); the soft reward spreads them over a wider range (a wider spread, and
    more samples below 40 ms and above 110 ms, the two latencies section 7.1 names)."""
    rows = [
        ("hard: larger share at or below T", hard.share_below_target, soft.share_below_target,
         hard.share_below_target > soft.share_below_target),
        ("hard: lower median latency", hard.median_ms, soft.median_ms, hard.median_ms < soft.median_ms),
        ("soft: wider spread (IQR, ms)", hard.iqr_ms, soft.iqr_ms, soft.iqr_ms > hard.iqr_ms),
        ("soft: larger share below 40 ms", hard.share_below_40ms, soft.share_below_40ms,
         soft.share_below_40ms > hard.share_below_40ms),
        ("soft: larger share above 110 ms", hard.share_above_110ms, soft.share_above_110ms,
         soft.share_above_110ms > hard.share_above_110ms),
    ]
    return pd.DataFrame([{"claim (paper V)": c, "hard [computed]": round(h, 3), "soft [computed]": round(s, 3),
                          "holds here": bool(ok)} for c, h, s, ok in rows])


def front(trials: pd.DataFrame) -> pd.DataFrame:
    """The finished trials on the accuracy-latency Pareto front, fastest first."""
    done = trials[trials["status"] == "done"].reset_index(drop=True)
    if done.empty:
        return done
    return done.iloc[pareto_front(done["accuracy"].to_numpy(float), done["latency_ms"].to_numpy(float))]
