"""Figure helpers shared by the notebooks: one style, reward curves, Pareto plots, iso-reward lines, saving.

Kept deliberately small: every notebook draws on matplotlib axes it owns and calls these for the pictures that
recur (a reward against latency, a cloud of models with its Pareto front, the reward's level sets on the
accuracy-latency plane), so figures look the same across the reproduction. Latency is always on the x axis in
milliseconds, accuracy on the y axis as a fraction.
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Sequence

import matplotlib.pyplot as plt
import numpy as np
import seaborn as sns
from matplotlib.axes import Axes
from matplotlib.contour import QuadContourSet
from matplotlib.figure import Figure
from numpy.typing import ArrayLike, NDArray

from mnaslib.labels import Provenance
from mnaslib.reward import Reward, pareto_front

FIGURE_DPI = 150


def use_style() -> None:
    """Apply the reproduction's one seaborn style, so figures from different notebooks match."""
    sns.set_theme(context="notebook", style="whitegrid", palette="colorblind")
    plt.rcParams.update({"figure.dpi": 100, "savefig.dpi": FIGURE_DPI, "axes.titlesize": "medium"})


def _latency_grid(lat_range: tuple[float, float], num: int) -> NDArray[np.float64]:
    """Evenly spaced latencies over a positive range; rewards are undefined at or below 0 ms."""
    low, high = lat_range
    if not 0 < low < high:
        raise ValueError(f"lat_range must be (low, high) with 0 < low < high milliseconds, got {lat_range!r}")
    if num < 2:
        raise ValueError(f"num must be at least 2 points to draw a curve, got {num}")
    return np.linspace(low, high, num)


def plot_reward_curve(
    ax: Axes,
    reward: Reward,
    acc: float,
    lat_range: tuple[float, float] = (1.0, 200.0),
    *,
    num: int = 400,
    label: str | None = None,
    mark_target: bool = True,
    **line_kw: object,
) -> None:
    """Draw ``reward(acc, lat)`` against latency for a fixed accuracy, as in the paper's Figure 3.

    The target latency comes from ``reward.target_ms`` (build the reward with the T you want); ``mark_target``
    draws it as a dashed vertical line. ``label`` defaults to the reward's own label.
    """
    lat = _latency_grid(lat_range, num)
    ax.plot(lat, reward(acc, lat), label=reward.label if label is None else label, **line_kw)
    if mark_target and reward.formula != "accuracy":
        ax.axvline(reward.target_ms, color="0.4", linestyle="--", linewidth=1)
    ax.set_xlabel("latency (ms)")
    ax.set_ylabel("objective value")


def plot_pareto(
    ax: Axes,
    acc: ArrayLike,
    lat: ArrayLike,
    label: str | None = None,
    highlight_front: bool = True,
    color: str | None = None,
    **scatter_kw: object,
) -> NDArray[np.intp]:
    """Scatter models on the accuracy-latency plane and draw their Pareto front as a staircase.

    The staircase steps up at each front point ("post"): between two consecutive front latencies the best accuracy
    reachable is that of the faster point. Returns the front's indices (ordered by latency) so the caller can name them.
    """
    acc_a, lat_a = np.asarray(acc, dtype=np.float64), np.asarray(lat, dtype=np.float64)
    front = pareto_front(acc_a, lat_a)
    points = ax.scatter(lat_a, acc_a, label=label, color=color, **{"s": 18, "alpha": 0.6, **scatter_kw})
    if highlight_front and front.size:
        ax.step(lat_a[front], acc_a[front], where="post", color=points.get_facecolor()[0], alpha=1.0, linewidth=1.5)
        ax.scatter(lat_a[front], acc_a[front], color=points.get_facecolor()[0], alpha=1.0, s=30, edgecolor="black",
                   linewidth=0.5, zorder=3)
    ax.set_xlabel("latency (ms)")
    ax.set_ylabel("accuracy")
    return front


def plot_hard_vs_soft(hard, soft, target_ms: float, accuracy_label: str, latency_label: str,
                      bins: int = 15) -> Figure:
    """Figure 6's layout: for the hard (left) and soft (right) searches, the sampled models with their Pareto front
    above and their latency histogram below, both with the target T marked. ``hard`` and ``soft`` are trial tables
    (``status``, ``accuracy``, ``latency_ms``); only finished trials are drawn. Shared by the trained searches and
    the surrogate ones, so the two figures stay comparable."""
    fig, axes = plt.subplots(2, 2, figsize=(11, 7), sharex=True)
    for col, (name, trials) in enumerate((("alpha=0, beta=-1 (hard)", hard), ("alpha=beta=-0.07 (soft)", soft))):
        ok = trials[trials["status"] == "done"]
        plot_pareto(axes[0, col], ok["accuracy"], ok["latency_ms"], label=name)
        axes[0, col].set_title(f"{name}: {len(ok)} samples")
        axes[0, col].set_ylabel(f"accuracy [{accuracy_label}]")
        axes[1, col].hist(ok["latency_ms"], bins=bins, color=f"C{col}")
        axes[1, col].set_xlabel(f"latency (ms) [{latency_label}]")
        axes[1, col].set_ylabel("count")
        for ax in axes[:, col]:
            ax.axvline(target_ms, color="0.4", linestyle="--")
    fig.tight_layout()
    return fig


def plot_iso_reward(
    ax: Axes,
    reward: Reward,
    acc_range: tuple[float, float] = (0.5, 0.8),
    lat_range: tuple[float, float] = (10.0, 200.0),
    *,
    levels: int | Sequence[float] = 8,
    num: int = 200,
    **contour_kw: object,
) -> QuadContourSet:
    """Draw iso-reward lines of ``reward`` on the accuracy-latency plane, labelled with their reward value.

    Models on one line earn the same reward, so a search driven by this reward is indifferent between them: the
    lines show which accuracy-latency trade-offs the reward treats as equal.
    """
    low, high = acc_range
    if not 0 <= low < high <= 1:
        raise ValueError(f"acc_range must be (low, high) with 0 <= low < high <= 1 (fractions), got {acc_range!r}")
    lat_grid, acc_grid = np.meshgrid(_latency_grid(lat_range, num), np.linspace(low, high, num))
    contours = ax.contour(lat_grid, acc_grid, reward(acc_grid, lat_grid), levels=levels, **contour_kw)
    ax.clabel(contours, inline=True, fontsize="x-small", fmt="%.3f")
    ax.set_xlabel("latency (ms)")
    ax.set_ylabel("accuracy")
    return contours


def plot_tradeoff(
    ax: Axes,
    reward: Reward,
    m1: tuple[float, float] = (50.0, 0.70),
    ratio: float = 2.0,
    gain: float = 0.05,
    *,
    acc_range: tuple[float, float] = (0.55, 0.85),
    lat_range: tuple[float, float] = (10.0, 160.0),
    num: int = 200,
) -> tuple[float, float]:
    """Iso-reward lines through a model M1 = (latency, accuracy) and M2 = (ratio x latency, (1 + gain) x accuracy),
    both marked, with the target as a dashed line; returns their rewards. Under a reward whose exponent matches the
    trade-off (the soft one for ratio 2, gain 5%) M1 and M2 sit on one line: the search is indifferent between them.
    """
    m1_lat, m1_acc = m1
    m2_lat, m2_acc = ratio * m1_lat, (1 + gain) * m1_acc
    r1, r2 = float(reward(m1_acc, m1_lat)), float(reward(m2_acc, m2_lat))
    levels = sorted({*np.round(np.linspace(acc_range[0], acc_range[1], 7), 3), round(r1, 4)})
    plot_iso_reward(ax, reward, acc_range=acc_range, lat_range=lat_range, levels=levels, num=num, cmap="viridis")
    ax.plot([m1_lat, m2_lat], [m1_acc, m2_acc], "o", color="crimson")
    for name, x, y in (("M1", m1_lat, m1_acc), ("M2", m2_lat, m2_acc)):
        ax.annotate(name, (x, y), textcoords="offset points", xytext=(6, 6), color="crimson")
    ax.axvline(reward.target_ms, color="0.4", linestyle="--", linewidth=1)
    return r1, r2


def label_provenance(ax: Axes, provenance: Provenance) -> None:
    """Stamp the provenance label in the lower-right corner of an axes, so a saved figure keeps its source."""
    ax.text(0.99, 0.01, provenance.label, transform=ax.transAxes, ha="right", va="bottom", fontsize="x-small",
            color="0.35")


def save_figure(fig: Figure, name: str, figures_dir: str | Path = "figures") -> Path:
    """Write ``fig`` as ``<figures_dir>/<name>.png`` at 150 dpi (creating the folder) and return the path."""
    if not name or Path(name).name != name:
        raise ValueError(f"figure name must be a plain file name such as 'fig3_reward', got {name!r}")
    folder = Path(figures_dir)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / (name if name.endswith(".png") else f"{name}.png")
    fig.savefig(path, dpi=FIGURE_DPI, bbox_inches="tight")
    return path


def draw_architecture(ax: Axes, arch, input_size: int = 224, depth_multiplier: float = 1.0) -> None:
    """A Figure 7-style drawing: one box per block with its op, kernel, SE, skip and repeats, tensor shapes between.

    ``arch`` is an ``mnaslib.space.Arch``; shapes follow the builder's strides and filter rounding.
    """
    from mnaslib.models import round_filters

    colours = {"conv": "#cc79a7", "dconv": "#56b4e9", "mbconv3": "#009e73", "mbconv6": "#e69f00"}
    size = math.ceil(input_size / 2)
    shapes = [f"{input_size}x{input_size}x3", f"{size}x{size}x{round_filters(arch.stem_filters, depth_multiplier)}"]
    boxes = [("Conv 3x3", "#999999", "stem")]
    for block in arch.blocks:
        size = math.ceil(size / block.stride)
        name = {"conv": "Conv", "dconv": "SepConv"}.get(block.conv_op, f"MBConv{block.expand_ratio}")
        extra = (", SE" if block.se_ratio else "") + {"none": "", "pool": ", pool", "identity": ""}[block.skip]
        boxes.append((f"{name} ({block.kernel}x{block.kernel}{extra})", colours.get(block.conv_op, "#0072b2"),
                      f"x{block.repeats}"))
        shapes.append(f"{size}x{size}x{round_filters(block.out_filters, depth_multiplier)}")
    boxes.append(("Pooling, FC", "#999999", "head"))
    ax.set_xlim(0, 1)
    ax.set_ylim(-0.5, len(boxes) - 0.5)
    ax.invert_yaxis()
    ax.axis("off")
    for i, (text, colour, repeats) in enumerate(boxes):
        ax.add_patch(plt.Rectangle((0.25, i - 0.32), 0.5, 0.64, color=colour, alpha=0.85))
        ax.text(0.5, i, text, ha="center", va="center", fontsize="small" if len(text) < 20 else "x-small",
                color="white", weight="bold")
        ax.text(0.78, i, repeats, ha="left", va="center", fontsize="small")
        if i < len(shapes):
            ax.text(0.22, i - 0.5 if i else -0.45, shapes[i], ha="right", va="center", fontsize="x-small", color="0.3")
    ax.set_title(f"{arch.name or arch.arch_id} ({input_size}x{input_size})")
