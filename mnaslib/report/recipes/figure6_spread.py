"""How widely Figure 6's searches spread in latency, and the paper's reading of it checked on those numbers.

The paper reads Figure 6 as "the soft reward samples a wider latency range than the hard one". With alpha = beta the
soft reward's T multiplies every reward by one constant, so where a soft search settles is set by the space's
accuracy-latency slope; what can be checked is the spread, per arm and seed, and whether a controller stopped
exploring (a narrow range and few distinct networks at the end, whatever its reward).
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from mnaslib.report.recipes.benchmark_searches import ArmRuns
from mnaslib.search.trial import finished, label_of
from mnaslib.report.verdicts import label_error_floor, seed_spread, verdict


def latency_spreads(runs: dict[str, ArmRuns], last: float = 0.2) -> pd.DataFrame:
    """Per arm and seed: the latency range its samples cover (10th-90th percentile, ms, and their ratio), over all
    samples and over the last ``last`` share of them, and the distinct networks among those last samples. A search
    whose controller collapses ends with a narrow range and few distinct networks whatever its reward."""
    rows = []
    for arm_runs in runs.values():
        for seed, trials in zip(arm_runs.seeds, arm_runs.trials):
            done = finished(trials)
            tail = done.iloc[-max(1, int(round(last * len(done)))):]
            row = {"arm": arm_runs.arm.key, "seed": seed}
            for name, part in (("all", done), (f"last {100 * last:.0f}%", tail)):
                p10, p90 = np.percentile(part["latency_ms"].to_numpy(float), [10, 90])
                row[f"{name}: p10-p90 (ms)"] = f"{p10:.1f}-{p90:.1f}"
                row[f"{name}: width (ms)"] = round(float(p90 - p10), 2)
                row[f"{name}: p90/p10"] = round(float(p90 / p10), 3)
            row[f"last {100 * last:.0f}%: distinct networks"] = int(tail["arch_id"].nunique())
            row["_samples"] = len(tail)
            row["_latency_label"] = label_of(trials, "latency")
            rows.append(row)
    return pd.DataFrame(rows)


def latency_spread_table(spreads: pd.DataFrame) -> pd.DataFrame:
    """``latency_spreads`` for display and the report: the ranges, widths and distinct networks (7 columns; the
    p90/p10 ratios stay in ``spreads`` for ``figure6_reading``), the latency provider named in the range headers."""
    label = spreads["_latency_label"].iloc[0] if len(spreads) else ""
    shown = spreads[[c for c in spreads.columns if not c.startswith("_") and not c.endswith("p90/p10")]]
    return shown.rename(columns={c: f"{c} [{label}]" for c in shown.columns if c.endswith("p10-p90 (ms)") and label})


def figure6_reading(spreads: pd.DataFrame, last: float = 0.2) -> str:
    """Whether the paper's reading (the soft reward samples a wider latency range than the hard one) holds in these
    searches, seed pair by seed pair, over all samples and over the last ones, and whether the controller had
    collapsed (few distinct networks at the end): the sentence notebook 03 and the README report, built from the
    numbers, never written by hand."""
    tail = f"last {100 * last:.0f}%"
    hard, soft = (spreads[spreads["arm"] == arm].reset_index(drop=True) for arm in ("hard", "soft"))
    parts = []
    for name in ("all", tail):
        width = f"{name}: width (ms)"
        error = label_error_floor(spreads["_latency_label"].iloc[0], float(hard[width].median())) \
            if "_latency_label" in spreads else None
        judged = verdict(list(soft[width] - hard[width]), [seed_spread(soft[width], hard[width]), error], " ms",
                         min_seeds=3)
        parts.append(f"over {'all samples' if name == 'all' else 'the ' + tail + ' of the samples'} the soft "
                     f"reward's 10th-90th percentile latency range is wider than the hard one's: {judged} (median "
                     f"width {soft[f'{name}: width (ms)'].median():.1f} ms soft against "
                     f"{hard[f'{name}: width (ms)'].median():.1f} ms hard)")
    distinct = spreads[f"{tail}: distinct networks"] / spreads["_samples"]
    state = ("the controller had collapsed" if distinct.median() < 0.1 else "the controller was still exploring")
    return (f"{'; '.join(parts)[0].upper()}{'; '.join(parts)[1:]}. At the end {state}: the median search sampled "
            f"{spreads[f'{tail}: distinct networks'].median():.0f} distinct networks in its last "
            f"{spreads['_samples'].median():.0f} samples (fewest {spreads[f'{tail}: distinct networks'].min()}).")


# ---------------------------------------------------------------------------------------------------------------
# Table 2's SE study, Table 5's reward half, Table 4's search again
# ---------------------------------------------------------------------------------------------------------------
