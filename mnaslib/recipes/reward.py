"""Notebook 00: the MnasNet reward: the paper's settings, the slider explorer's figure, and the Figure 5 fronts
scored by the hard and soft rewards.

The notebook only calls these and displays what they return, so the same numbers can be tested here and rechecked
by the notebook's exercises.
"""
from __future__ import annotations

import matplotlib.pyplot as plt
import pandas as pd
from matplotlib.figure import Figure

from mnaslib import paper, plots
from mnaslib.labels import Labelled, Provenance, render_table
from mnaslib.reward import Reward, get_reward, hypervolume

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
        rows.append({"family": family, "points": len(points), "on the Pareto front": int(front.size),
                     "hypervolume (acc x ms)": Labelled(hypervolume(acc, lat, ref_acc, ref_lat),
                                                        Provenance("computed", f"reference ({ref_acc}, {ref_lat:g} ms)"),
                                                        "{:.2f}")})
    plots.plot_iso_reward(ax, soft, acc_range=(0.45, 0.8), lat_range=(5.0, 160.0), levels=[0.60, 0.65, 0.70, 0.75],
                          num=max(2, num_points // 2), colors="0.6", linewidths=0.8)
    ax.set_title("Figure 5 points (published) with soft iso-reward lines (computed)")
    ax.legend(loc="lower right", bbox_to_anchor=(1.0, 0.06), fontsize="small")
    plots.label_provenance(ax, Provenance("computed", f"fronts and lines; points {front_sources(fronts)}"))
    fig.tight_layout()
    return fig, render_table(rows)
