"""Notebook 00: the MnasNet reward: the paper's settings, the slider explorer's figure, and the Figure 5 fronts
scored by the hard and soft rewards.

The notebook only calls these and displays what they return, so the same numbers can be tested here and rechecked
by the notebook's exercises.
"""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from mnaslib import paper
from mnaslib.report import plots
from mnaslib.labels import Labelled, Provenance, render_table
from mnaslib.reward import Reward, beta_for_tradeoff, get_reward, hypervolume

COMPUTED = Provenance("computed", "mnaslib.reward")
FRONT_FAMILIES = {"MnasNet-A1": "fig5_mnasnet_a1", "MobileNetV2": "fig5_mobilenetv2"}
HYPERVOLUME_REFERENCE = (0.55, 160.0)  # (accuracy, ms): worse than every Figure 5 point


def setup(name: str) -> paper.PaperValue:
    """A setting stated in the paper's text (``data/paper/setup.csv``), with its V/C/U status."""
    return paper.value("setup", name, "value")


def reward_explorer_figure(alpha: float, beta: float, target_ms: float, acc: float, num_points: int) -> Figure:
    """The slider explorer's picture: the reward curve for the chosen exponents, and the iso-reward lines through
    M1 = (T/2, ACC) and M2 = (T, 1.05 ACC), the two models the soft exponent is chosen to treat as equal."""
    reward = get_reward("mnas", alpha=alpha, beta=beta, target_ms=target_ms)
    fig, (ax_curve, ax_iso) = plt.subplots(1, 2, figsize=(11, 3.6))
    plots.plot_reward_curve(ax_curve, reward, acc, (1.0, 200.0), num=num_points)
    ax_curve.set_title(reward.label)
    m1_acc = min(acc, 0.9)
    r1, r2 = plots.plot_tradeoff(ax_iso, reward, (target_ms / 2, m1_acc),
                                 acc_range=(0.8 * m1_acc, min(1.0, 1.15 * m1_acc)), lat_range=(5.0, 200.0),
                                 num=max(2, num_points // 3))
    ax_iso.set_title(f"Reward(M2) / Reward(M1) - 1 = {r2 / r1 - 1:+.2%}", fontsize="small")
    for ax in (ax_curve, ax_iso):
        plots.label_provenance(ax, COMPUTED)
    fig.tight_layout()
    return fig


def fig5_fronts() -> pd.DataFrame:
    """Every Figure 5 point of both families, one published value per network (``paper.value``: the paper's number
    unless uncertain, the official README's otherwise), with the ``PaperValue`` of its top-1 and latency.

    Columns: family, model (the README row key), multiplier, input_size, top1 (fraction), latency_ms,
    top1_value, latency_value (``PaperValue``s, for labels).
    """
    rows = []
    for family, table in FRONT_FAMILIES.items():
        for model, row in paper.load_table(table).iterrows():
            top1, latency = paper.value(table, model, "top1"), paper.value(table, model, "latency_ms")
            rows.append({"family": family, "model": model, "multiplier": row["multiplier"],
                         "input_size": int(row["input_size"]), "top1": top1.value / 100, "latency_ms": latency.value,
                         "top1_value": top1, "latency_value": latency})
    return pd.DataFrame(rows)


def front_rewards(fronts: pd.DataFrame, soft: Reward, hard: Reward, input_size: int = 224) -> pd.DataFrame:
    """The depth-multiplier front at one input size, each point scored by the soft and the hard reward (rendered,
    one labelled cell per value)."""
    chosen = fronts[fronts["input_size"] == input_size].sort_values(["family", "latency_ms"])
    return render_table([{
        "model": f"{row.family} {row.multiplier:g}x",
        "top-1 (%)": row.top1_value.cell(),
        "latency (ms)": row.latency_value.cell(),
        "soft reward": Labelled(float(soft(row.top1, row.latency_ms)), COMPUTED, "{:.3f}"),
        "hard reward": Labelled(float(hard(row.top1, row.latency_ms)), COMPUTED, "{:.3f}"),
    } for row in chosen.itertuples()])


def reward_spread(fronts: pd.DataFrame, reward: Reward, input_size: int = 224) -> pd.Series:
    """Per family, max/min - 1 of the reward along the depth-multiplier front: how far the reward is from
    indifferent along a front (near 0: a search has no reason to prefer one end)."""
    chosen = fronts[fronts["input_size"] == input_size]
    rewards = pd.Series(reward(chosen["top1"].to_numpy(), chosen["latency_ms"].to_numpy()), index=chosen.index)
    by_family = rewards.groupby(chosen["family"])
    return by_family.max() / by_family.min() - 1


def front_sources(fronts: pd.DataFrame) -> str:
    """Which published sources the points' values come from, e.g. ``official (V), paper (C, V)``."""
    kinds: dict[str, set[str]] = {}
    for column in ("top1_value", "latency_value"):
        for number in fronts[column]:
            kinds.setdefault(number.provenance.kind, set()).add(number.status)
    return ", ".join(f"{kind} ({', '.join(sorted(statuses))})" for kind, statuses in sorted(kinds.items()))


def fronts_figure(fronts: pd.DataFrame, soft: Reward, num_points: int) -> tuple[Figure, pd.DataFrame]:
    """Both families' Figure 5 points with their Pareto fronts and the soft reward's iso-reward lines; returns the
    figure and, per family, how many points lie on its front and its hypervolume against
    ``HYPERVOLUME_REFERENCE``."""
    ref_acc, ref_lat = HYPERVOLUME_REFERENCE
    fig, ax = plt.subplots(figsize=(6.5, 4.2))
    rows = []
    for family, points in fronts.groupby("family", sort=False):
        acc, lat = points["top1"].to_numpy(), points["latency_ms"].to_numpy()
        front = plots.plot_pareto(ax, acc, lat, label=f"{family} (all multipliers and input sizes)")
        volume = hypervolume(acc, lat, ref_acc, ref_lat)
        rows.append({"family": family, "points": len(points), "on the Pareto front": int(front.size),
                     "hypervolume (acc x ms)": Labelled(volume, Provenance("computed", f"reference ({ref_acc}, "
                                                                                        f"{ref_lat:g} ms)"), "{:.2f}")})
    plots.plot_iso_reward(ax, soft, acc_range=(0.45, 0.8), lat_range=(5.0, 160.0), levels=[0.60, 0.65, 0.70, 0.75],
                          num=max(2, num_points // 2), colors="0.6", linewidths=0.8)
    ax.set_title("Figure 5 points (published) with soft iso-reward lines (computed)")
    plots.legend_outside(ax)
    plots.label_provenance(ax, Provenance("computed", f"fronts and lines; points {front_sources(fronts)}"))
    fig.tight_layout()
    return fig, render_table(rows)


def reward_checks(fronts: pd.DataFrame, fig3_acc: float, fig3_target_ms: float,
                  search_target: paper.PaperValue) -> pd.DataFrame:
    """What notebook 00 can check of the paper's reward, each with a verdict computed here: the soft exponent from
    the stated trade-off, Figure 3's two shapes, the soft reward's indifference along the Figure 5 fronts, and why
    Figure 6 cannot be read from T (with alpha = beta, T multiplies every reward by one constant)."""
    soft_beta, gain = setup("soft_beta"), setup("accuracy_gain_per_latency_doubling")
    beta = beta_for_tradeoff(2.0, gain.value)
    hard_fig3 = get_reward("mnas_hard", target_ms=fig3_target_ms)
    soft_fig3 = get_reward("mnas_soft", target_ms=fig3_target_ms)
    below, above = fig3_target_ms / 2, 2 * fig3_target_ms
    hard_shape = (hard_fig3(fig3_acc, below) / fig3_acc, hard_fig3(fig3_acc, above) / fig3_acc)
    grid = np.linspace(1.0, 200.0, 400)
    soft_curve = soft_fig3(fig3_acc, grid)
    soft = get_reward("mnas_soft", target_ms=search_target.value)
    hard = get_reward("mnas_hard", target_ms=search_target.value)
    spread_soft, spread_hard = reward_spread(fronts, soft), reward_spread(fronts, hard)
    doubled = get_reward("mnas_soft", target_ms=2 * search_target.value)
    scale = doubled(fronts["top1"].to_numpy(), fronts["latency_ms"].to_numpy()) / soft(
        fronts["top1"].to_numpy(), fronts["latency_ms"].to_numpy())
    spreads = ", ".join(f"{family}: soft {spread_soft[family]:.1%}, hard {spread_hard[family]:.1%}"
                        for family in spread_soft.index)
    rows = [
        {"claim": "doubling latency buys about 5% relative accuracy, so beta = -0.07 (Section 3)",
         "paper": soft_beta.cell(), "ours": Labelled(beta, COMPUTED, "{:.4f}"),
         "verdict": "holds" if round(beta, 2) == soft_beta.value else "does not hold"},
        {"claim": "Figure 3, hard: flat below T, divided by LAT/T above",
         "paper": "figure", "ours": Labelled(f"R/ACC = {hard_shape[0]:.2f} at T/2, {hard_shape[1]:.2f} at 2T",
                                             COMPUTED),
         "verdict": "holds" if np.allclose(hard_shape, (1.0, 0.5)) else "does not hold"},
        {"claim": "Figure 3, soft: decreases smoothly through T",
         "paper": "figure", "ours": Labelled(f"decreasing at all {grid.size} latencies sampled"
                                             if np.all(np.diff(soft_curve) < 0) else "not monotone", COMPUTED),
         "verdict": "holds" if np.all(np.diff(soft_curve) < 0) else "does not hold"},
        {"claim": "the soft reward treats Pareto-optimal models alike; the hard one collapses past T",
         "paper": "text", "ours": Labelled(f"max/min - 1 along the 224 px fronts: {spreads}", COMPUTED),
         "verdict": "holds" if (spread_soft < spread_hard).all() else "does not hold"},
        {"claim": "Figure 6: the soft search samples around T = 75 ms",
         "paper": search_target.cell(),
         "ours": Labelled(f"doubling T multiplies every soft reward by {scale.min():.4f} to {scale.max():.4f}: with "
                          "alpha = beta, T cannot move where a soft search settles", COMPUTED),
         "verdict": "not testable here: notebook 03 runs the searches"},
    ]
    return render_table(rows)
