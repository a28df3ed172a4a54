"""The paper's figures as we reproduce them: Table 1's picture, Figure 5, Table 3's counts, the ablations.

Each function takes what a recipe computed and returns (or draws on) a matplotlib figure whose every axis says the
provenance of what it shows.
"""
from __future__ import annotations

import textwrap
from typing import TYPE_CHECKING, Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from mnaslib import paper
from mnaslib.report.plots.core import annotate_apart, current_style, plot_pareto
from mnaslib.report.runs import accuracy_axis
from mnaslib.search.trial import finished, label_of
from mnaslib.spaces.zoo import fig5_points

if TYPE_CHECKING:
    from mnaslib.report.recipes.ablations import SearchSummary
    from mnaslib.report.recipes.points import Context, PointResult


def table1_figure(results: Mapping[str, "PointResult"], ctx: "Context") -> Figure:
    """Three panels: (a) the paper's top-1 against Pixel-1 latency for every Table 1 row with both; (b) our proxy
    accuracy against held-out Pixel-1 latency; (c) each network's latency relative to MnasNet-A1, ours (host
    measured, Pixel-1 held out) against the paper's: the claims are ratios, so this is where they live."""
    fig, axes = plt.subplots(1, 3, figsize=(16, 4.8))
    frame = paper.load_table("table1_imagenet").dropna(subset=["top1", "latency_ms"])
    ax = axes[0]
    uncertain = (frame["top1_status"] == "U") | (frame["latency_ms_status"] == "U")
    ax.scatter(frame.loc[~uncertain, "latency_ms"], frame.loc[~uncertain, "top1"], color="0.3",
               label="paper (V or C)")
    ax.scatter(frame.loc[uncertain, "latency_ms"], frame.loc[uncertain, "top1"], facecolor="none",
               edgecolor="0.3", label="paper, a value uncertain (U)")
    names = {0: list(zip(frame["latency_ms"], frame["top1"], frame.index))}
    ax.legend(fontsize="x-small", loc="lower right")
    ax.set(xlabel="Pixel-1 latency (ms) [paper]", ylabel="ImageNet top-1 (%) [paper]", title="(a) paper, Table 1")

    ax = axes[1]
    scored = {k: r for k, r in results.items() if not r.predicted.is_missing}
    names[1] = []
    for name, r in scored.items():
        ax.scatter(r.pixel1_out_of_sample_ms, r.predicted.value, color="C0")
        names[1].append((r.pixel1_out_of_sample_ms, r.predicted.value, name))
    trained = {k: r for k, r in results.items() if r.proxy_accuracy is not None}
    if trained:  # opt-in proxy trainings: another task, so another axis
        twin = ax.twinx()
        twin.grid(False)
        twin.scatter([r.pixel1_out_of_sample_ms for r in trained.values()],
                     [r.proxy_accuracy for r in trained.values()], marker="*", s=120, color="C1",
                     label="proxy accuracy (right axis)")
        twin.set_ylabel("accuracy [proxy]")
        twin.legend(fontsize="x-small", loc="lower right")
    ax.set(xlabel="Pixel-1 latency (ms) [predicted, held out]", ylabel="ImageNet top-1 (%) [surrogate]",
           title=f"(b) ours: 16-epoch top-1 ({len(results) - len(scored)} of {len(results)} not testable here)")
    if current_style().footer and scored:  # under the axis, where it covers no point; each network's own caveats
        label = next(iter(scored.values())).predicted.label.split("; this network's")[0]  # are in Table 1's cells
        ax.text(0.0, -0.2, textwrap.fill(label, 75), transform=ax.transAxes, va="top", fontsize="xx-small",
                color="0.35")

    ax = axes[2]
    a1 = results["MnasNet-A1"]
    paper_a1 = paper.value("table1_imagenet", "MnasNet-A1", "latency_ms").value
    names[2] = []
    for name, r in results.items():
        try:
            x = paper.value("table1_imagenet", name, "latency_ms").value / paper_a1
        except LookupError:
            continue
        ax.scatter(x, r.pixel1_out_of_sample_ms / a1.pixel1_out_of_sample_ms, color="C1", marker="o",
                   label="Pixel-1 predicted, held out")
        if r.host is not None and a1.host is not None:
            ax.scatter(x, r.host.median_ms / a1.host.median_ms, color="C2", marker="s",
                       label="host measured (LiteRT, 1 thread)")
        names[2].append((x, r.pixel1_out_of_sample_ms / a1.pixel1_out_of_sample_ms, name))
    limit = max(ax.get_xlim()[1], ax.get_ylim()[1])
    ax.plot([0.5, limit], [0.5, limit], color="0.6", linestyle="--", linewidth=1, label="same ratio as the paper")
    handles, labels = ax.get_legend_handles_labels()
    unique = dict(zip(labels, handles))
    ax.legend(unique.values(), unique.keys(), fontsize="x-small", loc="upper left")
    ax.set(xlabel="latency / MnasNet-A1's [paper]", ylabel="latency / MnasNet-A1's [ours]",
           title="(c) relative latency, ours vs paper")
    fig.tight_layout()
    for panel, points in names.items():  # named once the layout is final, so each label's box is where it is drawn
        annotate_apart(axes[panel], [x for x, _, _ in points], [y for _, y, _ in points], [n for _, _, n in points])
    return fig


def fig5_figure(results: Mapping[str, "PointResult"], ctx: "Context") -> Figure:
    """Figure 5's two panels (scaling by depth multiplier at 224, by input size at 1.0x).

    In each: the paper's top-1 against the paper's Pixel-1 latency (solid), the same top-1 against our held-out
    Pixel-1 prediction (dashed: how far our latency model moves each point sideways), and, on the same ImageNet
    axis, the top-1 the laptop search's evaluator predicts where it can score a point (stars, ``surrogate``). Proxy
    accuracies, a different task, get a right axis only where they were trained (opt-in).
    """
    fig, axes = plt.subplots(1, 2, figsize=(13, 4.8))
    points = fig5_points()
    for ax, (title, on_slice) in zip(axes, (("(a) depth multiplier, 224x224", lambda p: p.input_size == 224),
                                            ("(b) input size, multiplier 1.0", lambda p: p.multiplier == 1.0))):
        twin = None
        for colour, name, table in (("C0", "MnasNet-A1", "fig5_mnasnet_a1"), ("C3", "MobileNetV2", "fig5_mobilenetv2")):
            chosen = sorted((p for p in points if p.label.startswith(name) and on_slice(p)),
                            key=lambda p: results[p.label].pixel1_out_of_sample_ms)
            top1 = [paper.value(table, p.note, "top1").value for p in chosen]
            paper_ms = [paper.value(table, p.note, "latency_ms").value for p in chosen]
            ours_ms = [results[p.label].pixel1_out_of_sample_ms for p in chosen]
            ax.plot(paper_ms, top1, "o-", color=colour, label=f"{name}: paper top-1 vs paper latency")
            ax.plot(ours_ms, top1, "o--", color=colour, mfc="none",
                    label=f"{name}: paper top-1 vs our Pixel-1 prediction (held out)")
            predicted = [(results[p.label].pixel1_out_of_sample_ms, results[p.label].predicted.value) for p in chosen
                         if not results[p.label].predicted.is_missing]
            if predicted:
                ax.scatter(*zip(*predicted), marker="*", s=160, color=colour, edgecolor="black", zorder=3,
                           label=f"{name}: predicted top-1 after 16 epochs [surrogate]")
            trained = [(results[p.label].pixel1_out_of_sample_ms, results[p.label].proxy_accuracy) for p in chosen
                       if results[p.label].proxy_accuracy is not None]
            if trained:
                twin = twin or ax.twinx()
                twin.scatter(*zip(*trained), marker="P", s=90, color=colour, edgecolor="black",
                             label=f"{name}: proxy accuracy (right axis)")
        ax.set(title=title, xlabel="Pixel-1 latency (ms) [paper / predicted, held out]",
               ylabel="ImageNet top-1 (%) [paper / surrogate]")
        if twin is not None:
            twin.set_ylabel("accuracy [proxy]")
            twin.grid(False)
    # one legend under both panels, so no marker hides behind it (the stars sit low: a 16-epoch top-1)
    entries = {label: handle for ax in fig.axes for handle, label in zip(*ax.get_legend_handles_labels())}
    fig.legend(entries.values(), entries.keys(), fontsize="x-small", loc="upper center", ncol=2,
               bbox_to_anchor=(0.5, 0.0))
    if current_style().footer:
        notes = {r.predicted.label for r in results.values() if not r.predicted.is_missing}
        if any(r.proxy_accuracy is not None for r in results.values()):
            notes.add(ctx.proxy_provenance.label)
        if notes:
            fig.text(0.5, -0.2, textwrap.fill("; ".join(sorted(notes)), 160), ha="center", va="top",
                     fontsize="x-small", color="0.35")
    fig.tight_layout()
    return fig


def search_curves_figure(curves: pd.DataFrame) -> Figure:
    """A search's progress, step by step (``runs.curves``): the mean reward of each step's children and, where the
    strategy reports it, the controller's entropy (nats; falling entropy means a converging controller)."""
    panels = [("trial/mean_reward", "mean reward per step", "mean reward [computed]")]
    if "strategy/entropy" in curves:
        panels.append(("strategy/entropy", "controller entropy", "entropy (nats) [computed]"))
    fig, axes = plt.subplots(1, len(panels), figsize=(5 * len(panels), 3.5), squeeze=False, layout="constrained")
    for ax, (tag, title, ylabel) in zip(axes[0], panels):
        curves[tag].plot(ax=ax, marker="o", title=title)
        ax.set(xlabel="step", ylabel=ylabel)
    return fig


def search_pareto_figure(trials: pd.DataFrame, target_ms: float) -> Figure:
    """One search's finished children on the accuracy-latency plane with their Pareto front and the target T, each
    axis labelled with the run's own provenance (the accuracy's, from :func:`runs.accuracy_axis`, and the
    latency provider's)."""
    done = finished(trials)
    fig, ax = plt.subplots(figsize=(6, 4))
    plot_pareto(ax, done["accuracy"], done["latency_ms"], label="sampled models")
    ax.axvline(target_ms, color="0.5", linestyle="--", label=f"T = {target_ms:g} ms")
    ax.set_ylabel(accuracy_axis(done))
    ax.set_xlabel(f"latency (ms) [{label_of(trials, 'latency')}]")
    ax.legend()
    return fig


def table3_figure(axes: Sequence[Axes], counts: pd.DataFrame) -> None:
    """Two bar panels, params (M) and mult-adds (B): per detector, the paper's bar beside one bar per convention
    in ``counts``, each bar labelled with its provenance in the legend."""
    from mnaslib.spaces.detection import BACKBONES, PAPER_TABLE, convention  # lazy: keeps TensorFlow off import

    if len(axes) != 2:
        raise ValueError(f"plot_table3 needs two axes (params, mult-adds), got {len(axes)}")
    specs = [spec for spec in BACKBONES if (counts["backbone"] == spec.name).any()]
    conventions = list(dict.fromkeys(counts["convention"]))
    width = 0.8 / (1 + len(conventions))
    positions = np.arange(len(specs))
    panels = (("params_m", "params", 1e6, "params (M)"), ("mult_adds_b", "mult_adds", 1e9, "mult-adds (B)"))
    for ax, (paper_column, column, scale, ylabel) in zip(axes, panels):
        published = [paper.value(PAPER_TABLE, spec.paper_row, paper_column) for spec in specs]
        statuses = sorted({p.status for p in published})
        ax.bar(positions, [p.value for p in published], width, color="0.6",
               label=f"paper ({', '.join(statuses)})")
        for offset, name in enumerate(conventions, start=1):
            ours = counts[counts["convention"] == name].set_index("backbone")
            ax.bar(positions + offset * width, [ours.at[spec.name, column] / scale for spec in specs], width,
                   label=f"computed, {name} ({convention(name).num_classes} classes)")
        ax.set_xticks(positions + width * len(conventions) / 2, [spec.label for spec in specs])
        ax.set_ylabel(ylabel)
        size = int(counts["input_size"].iloc[0])
        ax.set_title(f"SSDLite {size}x{size}: {ylabel}")
    axes[1].legend(fontsize="small", loc="upper right")  # the mult-adds panel has room above the mobile rows


def table5_figure(summaries: Mapping[str, "SearchSummary"], target_ms: float, evaluator_label: str) -> Figure:
    """The ablation searches on one accuracy-latency plane, each with its Pareto front and its best-reward model
    (star); latency is the deployment network's under the searches' provider, the vertical axis what the searches'
    evaluator gave each child (``evaluator_label`` says which, and the axis its provenance)."""
    fig, ax = plt.subplots(figsize=(7, 4.5))
    provenance, measure = "", "accuracy"
    for i, summary in enumerate(summaries.values()):
        done = summary.done
        if done.empty:
            continue
        plot_pareto(ax, done["accuracy"], done["latency_ms"], label=summary.search.label, color=f"C{i}")
        measure = accuracy_axis(done)
        best = summary.best
        provenance = label_of(summary.trials, "latency")
        ax.scatter([best["latency_ms"]], [best["accuracy"]], marker="*", s=220, color=f"C{i}", edgecolor="black",
                   zorder=4)
    ax.axvline(target_ms, color="0.5", linestyle="--", linewidth=1, label=f"T = {target_ms:g} ms")
    ax.set_xlabel(f"latency of the 224x224 model (ms)\n[{textwrap.shorten(provenance, 90)}]")
    ax.set_ylabel(measure)
    ax.set_title("Ablation searches, same budget (star: best reward)\n"
                 + textwrap.shorten(f"children scored by: {evaluator_label}", 110), fontsize="small")
    ax.legend(fontsize="x-small")
    return fig


def table6_figure(raw: pd.DataFrame, proxy_label: str, not_trained: str) -> Figure:
    """Table 6 in the MnasNet space: Pixel-1 latency (paper, predicted in-sample and leave-one-out), our proxy
    accuracy where trained (grey, with ``not_trained`` as the reason, for the rest; the panel is left out when
    nothing was trained, the laptop default), and the paper's ImageNet top-1."""
    paper_top1 = [paper.value("table6_layer_diversity", row, "top1").value for row in raw["paper_row"]]
    paper_latency = [paper.value("table6_layer_diversity", row, "latency_ms").value for row in raw["paper_row"]]
    x = np.arange(len(raw))
    any_trained = bool(raw["trained"].any())
    fig, axes = plt.subplots(1, 3 if any_trained else 2, figsize=(14 if any_trained else 10, 4))
    width = 0.27
    axes[0].bar(x - width, paper_latency, width, label="paper (V)", color="0.6")
    axes[0].bar(x, raw["latency_ms"], width, label="predicted (fitted on these)", color="C0")
    axes[0].bar(x + width, raw["latency_loo_ms"], width, label="predicted (leave-one-out)", color="C1")
    axes[0].set_ylabel("Pixel-1 latency (ms)")
    axes[0].legend(fontsize="x-small")
    if any_trained:
        axes[1].bar(x, raw["accuracy"].fillna(0.0), color=["C2" if t else "0.85" for t in raw["trained"]])
        for i, trained in enumerate(raw["trained"]):
            if not trained:
                axes[1].text(i, 0.0, textwrap.fill(not_trained, 12), ha="center", va="bottom", fontsize="x-small")
        axes[1].set_ylabel("accuracy [proxy]")
        axes[1].set_title(textwrap.shorten(proxy_label, 80), fontsize="x-small")
    axes[-1].bar(x, paper_top1, color="0.6")
    axes[-1].set_ylim(min(paper_top1) - 2, max(paper_top1) + 1)
    axes[-1].set_ylabel("ImageNet top-1 (%) [paper (V)]")
    for ax in axes:
        ax.set_xticks(x, raw["model"], rotation=30, ha="right", fontsize="x-small")
    fig.suptitle("Table 6: MnasNet-A1 vs single-op variants"
                 + ("" if any_trained else f" (proxy accuracy: {not_trained})"), fontsize="medium")
    fig.tight_layout()
    return fig


def table6_accel_figure(raw: pd.DataFrame, rmse: float) -> Figure:
    """Table 6 on Accel-NASBench (``benchmark_searches.layer_diversity``): each single-op EfficientNet-B0 skeleton,
    B0 itself and each soft search's best network on the top-1 / Pixel-1 latency plane. Filled markers are the
    benchmark surrogate's top-1 with its held-out RMSE (``rmse``, in points) as the error bar, hollow ones the
    laptop predictor's second opinion; a mixed network above the single-op ones at similar latency is Table 6's
    claim."""
    fig, ax = plt.subplots(figsize=(8, 4.8), layout="constrained")
    styles = {"single op": ("o", "C0"), "mixed (designed)": ("s", "C2"), "mixed (searched)": ("*", "C3")}
    for kind, group in raw.groupby("kind", sort=False):
        marker, colour = styles.get(kind, ("D", "C4"))
        size = 12 if marker == "*" else 7
        ax.errorbar(group["latency_ms"], 100 * group["surrogate"], yerr=rmse, fmt=marker, color=colour,
                    markersize=size, capsize=3, label=f"{kind}: top-1 [surrogate, ±RMSE {rmse:.2f}]")
        ax.scatter(group["latency_ms"], 100 * group["predictor"], marker=marker, s=size ** 2, facecolor="none",
                   edgecolor=colour, label=f"{kind}: top-1 [predictor]")
    singles = raw[raw["kind"] == "single op"]
    annotate_apart(ax, list(singles["latency_ms"]), list(100 * singles["surrogate"]),
                   list(singles["network"].str.replace(" everywhere", "")))
    ax.set(xlabel="Pixel-1 latency (ms) [predicted]", ylabel="ImageNet top-1 (%)",
           title="Table 6 on Accel-NASBench: one op everywhere vs mixed networks")
    ax.legend(fontsize="x-small", loc="center left", bbox_to_anchor=(1.01, 0.5))
    return fig
