"""Figure helpers shared by the notebooks: one style, reward curves, Pareto plots, iso-reward lines, saving.

Kept deliberately small: every notebook draws on matplotlib axes it owns and calls these for the pictures that
recur (a reward against latency, a cloud of models with its Pareto front, the reward's level sets on the
accuracy-latency plane), so figures look the same across the reproduction. Latency is always on the x axis in
milliseconds, accuracy on the y axis as a fraction.
"""
from __future__ import annotations

import math
import os
import re
import textwrap
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Sequence

import matplotlib.pyplot as plt
import numpy as np
import seaborn as sns
from matplotlib.axes import Axes
from matplotlib.contour import QuadContourSet
from matplotlib.figure import Figure
from numpy.typing import ArrayLike, NDArray

from mnaslib.errors import UserError
from mnaslib.labels import Provenance
from mnaslib.reward import Reward, pareto_front
from mnaslib.search.trial import finished

FIGURE_DPI = 150
STYLE_VARIABLE = "MNAS_FIGURE_STYLE"


@dataclass(frozen=True)
class FigureStyle:
    """How figures look: ``paper`` (notebook fonts, 150 dpi, provenance footers on the axes) for the report, or
    ``talk`` (seaborn's talk fonts, 200 dpi, no footers: a projector cannot show them and the slide says the source)
    for a lecture."""

    name: str
    context: str
    dpi: int
    footer: bool


STYLES = {"paper": FigureStyle("paper", "notebook", FIGURE_DPI, True),
          "talk": FigureStyle("talk", "talk", 200, False)}
_current = [STYLES["paper"]]


def use_style(name: str | None = None) -> FigureStyle:
    """Apply one of the reproduction's seaborn styles (``STYLES``; default ``$MNAS_FIGURE_STYLE``, else ``paper``),
    so figures from different notebooks match; returns it."""
    name = name or os.environ.get(STYLE_VARIABLE) or "paper"
    if name not in STYLES:
        raise UserError(f"unknown figure style {name!r}; expected one of {', '.join(STYLES)}")
    style = _current[0] = STYLES[name]
    sns.set_theme(context=style.context, style="whitegrid", palette="colorblind")
    plt.rcParams.update({"figure.dpi": 100, "savefig.dpi": style.dpi, "axes.titlesize": "medium",
                         "legend.framealpha": 0.9})
    return style


def current_style() -> FigureStyle:
    """The style ``use_style`` applied last (``paper`` before any)."""
    return _current[0]


@contextmanager
def figure_style(name: str) -> Iterator[FigureStyle]:
    """Draw and save figures in another style for a while (``with figure_style("talk"): ...``), then restore."""
    previous = current_style().name
    with plt.rc_context():
        try:
            yield use_style(name)
        finally:
            _current[0] = STYLES[previous]


def legend_outside(ax: Axes, **legend_kw: object) -> None:
    """A legend right of the axes, where it cannot cover data; the figure widens by the legend's width, so the
    axes keep their size whatever the style's font."""
    legend = ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0.0, **legend_kw)
    fig = ax.figure
    width = legend.get_window_extent(fig.canvas.get_renderer()).width / fig.dpi
    fig.set_figwidth(fig.get_figwidth() + width)


def annotate_apart(ax: Axes, xs: Sequence[float], ys: Sequence[float], names: Sequence[str],
                   **text_kw: object) -> None:
    """Name points without labels overlapping each other: each label takes the first of eight offsets around its
    point whose box overlaps no label placed before (the last offset when every one does). Call it once the axes'
    limits and the figure's layout are final: boxes are measured where they are drawn."""
    ax.figure.canvas.draw()  # settles autoscaled limits, so data positions map to where they will be drawn
    renderer = ax.figure.canvas.get_renderer()
    offsets = ((4, 4), (4, -11), (-4, 4), (-4, -11), (4, 14), (-4, 14), (4, -21), (-4, -21))
    placed = []
    for x, y, name in sorted(zip(xs, ys, names), key=lambda p: (p[1], p[0])):
        for dx, dy in offsets:
            text = ax.annotate(name, (x, y), xytext=(dx, dy), textcoords="offset points",
                               ha="left" if dx > 0 else "right", **{"fontsize": "x-small", **text_kw})
            box = text.get_window_extent(renderer)
            if not any(box.overlaps(other) for other in placed):
                break
            if (dx, dy) != offsets[-1]:
                text.remove()
        placed.append(box)


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


def plot_reward_families(ax: Axes, rewards: Sequence[Reward], acc: float, lat_range: tuple[float, float] = (1.0, 200.0),
                         *, num: int = 400) -> None:
    """Several rewards against latency at one accuracy, told apart where they coincide: a curve equal to an earlier
    one (over the whole range or a tenth of it or more) is drawn dashed on top of it and its legend entry says where;
    the legend sits outside the axes, so it covers no curve."""
    lat = _latency_grid(lat_range, num)
    drawn: list[tuple[str, NDArray[np.float64]]] = []
    for index, reward in enumerate(rewards):
        values = np.asarray(reward(acc, lat), dtype=np.float64)
        label = re.sub(r",? ?T=[^,)]*ms", "", reward.label).replace(" ()", "")  # T is the axes' dashed line
        matches = [(name, np.isclose(values, earlier, rtol=1e-6, atol=1e-9)) for name, earlier in drawn]
        whole = [name for name, same in matches if same.all()]
        overlap = (f"same curve as {whole[0]}" if whole else
                   "; ".join(f"= {name} from {lat[same].min():.0f} to {lat[same].max():.0f} ms"
                             for name, same in matches if same.mean() >= 0.1))
        ax.plot(lat, values, label=f"{label}\n({overlap})" if overlap else label, color=f"C{index}",
                linewidth=2.5 if overlap else 2, linestyle=(0, (2, 2)) if overlap else "-", zorder=2 + bool(overlap))
        drawn.append((reward.name, values))
    ax.set_xlabel("latency (ms)")
    ax.set_ylabel("objective value")
    legend_outside(ax, fontsize="small")


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
    fig, axes = plt.subplots(2, 2, figsize=(11, 7), sharex=True, layout="constrained")
    for col, (name, trials) in enumerate((("alpha=0, beta=-1 (hard)", hard), ("alpha=beta=-0.07 (soft)", soft))):
        ok = finished(trials)
        plot_pareto(axes[0, col], ok["accuracy"], ok["latency_ms"], label=name)
        axes[0, col].set_title(f"{name}: {len(ok)} samples", pad=10)
        axes[0, col].set_ylabel(textwrap.fill(f"accuracy [{accuracy_label}]", 40) if col == 0 else "accuracy")
        axes[1, col].hist(ok["latency_ms"], bins=bins, color=f"C{col}")
        axes[1, col].set_xlabel(textwrap.fill(f"latency (ms) [{latency_label}]", 60))
        axes[1, col].set_ylabel("count")
        for ax in axes[:, col]:
            ax.axvline(target_ms, color="0.4", linestyle="--")
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
    """Stamp the provenance label in the lower-right corner of an axes, so a saved figure keeps its source (not in
    the ``talk`` style: a slide states its source in its own words)."""
    if not current_style().footer:
        return
    ax.text(0.99, 0.01, provenance.label, transform=ax.transAxes, ha="right", va="bottom", fontsize="x-small",
            color="0.35")


def save_figure(fig: Figure, name: str, figures_dir: str | Path = "figures") -> Path:
    """Write ``fig`` as ``<figures_dir>/<name>.png`` at the current style's dpi (150 ``paper``, 200 ``talk``),
    creating the folder, and return the path."""
    if not name or Path(name).name != name:
        raise ValueError(f"figure name must be a plain file name such as 'fig3_reward', got {name!r}")
    folder = Path(figures_dir)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / (name if name.endswith(".png") else f"{name}.png")
    fig.savefig(path, dpi=current_style().dpi, bbox_inches="tight")
    return path


def draw_architecture(ax: Axes, arch, input_size: int = 224, depth_multiplier: float = 1.0) -> None:
    """A Figure 7-style drawing: one box per block with its op, kernel, SE, skip and repeats, tensor shapes between.

    ``arch`` is an ``mnaslib.spaces.mnasnet.Arch``; shapes follow the builder's strides and filter rounding.
    """
    from mnaslib.spaces.models import round_filters  # lazy: keeps TensorFlow out of this module's import

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
