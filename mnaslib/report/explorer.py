"""The run explorer (notebook 03): one trial of a finished search at a time, drawn so that a student can read it.

A search's record holds every sampled network with its accuracy, latency and reward, each labelled. The explorer
shows a trial as three panels: the network block by block (Figure 7's style); where its latency goes, under the
run's own latency provider (read from its stored config): a cost model's milliseconds for the stem, each block and
the head (the Pixel-1 model's add up to its prediction exactly, the model being linear in features that add up
over layers), or the whole network's where the provider has no parts (a measurement); and the trial among
everything the search sampled. The title carries the accuracy, latency and reward with their labels.
``trial_figure`` draws one trial (headless runs draw the best); ``run_explorer`` is the widget, a dropdown for the
run and one for the trial (best reward first).
"""
from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
from matplotlib.figure import Figure

from mnaslib.spaces.arch import Arch
from mnaslib.spaces.buildable import BuildOptions
from mnaslib.latency.base import LatencyProvider
from mnaslib.reward import Reward
from mnaslib.search.trial import Trial, finished
from mnaslib.reward import from_config
from mnaslib.report.runs import load_run
from mnaslib.report.plots.core import draw_architecture, plot_pareto

TOP_TRIALS = 50


@dataclass(frozen=True)
class RunView:
    """What the explorer needs of one run: its finished trials (best reward first, each architecture once) and the
    space, deployment options, latency provider and reward that produced them."""

    label: str
    trials: list[Trial]
    all_done: pd.DataFrame
    space: Any
    options: BuildOptions
    reward: Reward
    provider: LatencyProvider
    latency_options: BuildOptions  # the network the provider timed (the latency section may change its size)

    def choices(self, top: int = TOP_TRIALS) -> list[tuple[str, int]]:
        """Dropdown options ``(text, rank)`` for the ``top`` best trials."""
        return [(f"#{rank + 1}: reward {t.reward.value:.4f}, accuracy {t.accuracy.value:.3f}, {t.latency.value:.1f} ms "
                 f"(trial {t.id})", rank) for rank, t in enumerate(self.trials[:top])]


def load_view(run_dir: str | os.PathLike, label: str | None = None) -> RunView:
    """A finished (or running) search's trials with the components its stored config names; a run of the cell
    space, whose networks are not block lists, is refused with the reason."""
    from mnaslib.search.wiring import deployment_options, make_latency, search_space  # lazy: keeps SciPy off import
    from mnaslib.search.profile import Profile  # lazy: keeps SciPy out of this module's import
    run = load_run(run_dir)
    config = {k: v for k, v in run.config.items() if k not in ("data", "reevaluate")}
    profile = Profile.from_dict(config)
    space = search_space(profile)
    if not isinstance(space.decode(space.sample(0)), Arch):
        raise ValueError(f"{run_dir} searched {type(space).__name__}, whose networks are not block lists; the run "
                         "explorer draws those of the MnasNet and Accel-NASBench spaces")
    done = finished(run.frame)
    if done.empty:
        raise ValueError(f"{run_dir} has no finished trials to explore yet")
    latency = make_latency(profile.latency, deployment_options(profile))
    return RunView(label or Path(run_dir).name, run.best(None), done, space, deployment_options(profile),
                   from_config(profile.reward), latency.provider, latency.options)


def trial_figure(view: RunView, rank: int = 0) -> Figure:
    """The explorer's picture of the ``rank``-th best trial of ``view`` (0: the best)."""
    import matplotlib.pyplot as plt

    if not 0 <= rank < len(view.trials):
        raise ValueError(f"rank {rank} is outside this run's {len(view.trials)} finished architectures")
    trial = view.trials[rank]
    arch = view.space.decode(list(trial.tokens))
    accuracy, latency = trial.accuracy, trial.latency
    breakdown = view.provider.breakdown_ms(arch, view.latency_options)
    if breakdown is None:  # a measurement (or a model of whole networks) has no parts: the trial's total
        breakdown = {"whole network": float(latency.value)}

    fig, (ax_arch, ax_ms, ax_all) = plt.subplots(1, 3, figsize=(15, 5.5), gridspec_kw={"width_ratios": [1.1, 1, 1]})
    draw_architecture(ax_arch, arch, view.options.input_size, view.options.depth_multiplier)
    ax_arch.set_title(f"trial {trial.id} ({view.options.input_size}x{view.options.input_size})", fontsize="small")
    names = list(breakdown)[::-1]
    ax_ms.barh(names, [breakdown[n] for n in names], color="C0")
    ax_ms.set_xlabel(f"ms [{latency.label}]")
    ax_ms.set_title(f"where the latency goes: {sum(breakdown.values()):.1f} ms in all", fontsize="small")
    plot_pareto(ax_all, view.all_done["accuracy"], view.all_done["latency_ms"], label="sampled")
    ax_all.scatter([latency.value], [accuracy.value], s=160, marker="*", color="crimson", zorder=5,
                   label=f"trial {trial.id}")
    if "target_ms" in view.reward.params:
        ax_all.axvline(view.reward.target_ms, color="0.5", linestyle="--", label=f"T = {view.reward.target_ms:g} ms")
    ax_all.set_xlabel(f"latency (ms) [{latency.label}]")
    ax_all.set_ylabel(f"accuracy [{accuracy.provenance.kind if accuracy.provenance else accuracy.label}]")
    ax_all.legend(fontsize="x-small")
    ax_all.set_title(f"among the {len(view.all_done)} finished samples of {view.label}", fontsize="small")
    fig.suptitle(f"accuracy {accuracy.value:.4f} [{accuracy.label}]\nlatency {latency.value:.1f} ms "
                 f"[{latency.label}]; reward {trial.reward.value:.4f} [computed: {view.reward.label}]",
                 fontsize="small")
    fig.tight_layout()
    return fig


def run_explorer(runs: Mapping[str, str | os.PathLike], top: int = TOP_TRIALS):
    """The explorer widget over ``runs`` (``{label: run_dir}``): a run dropdown, a trial dropdown (the ``top`` best
    rewards of that run) and the trial's picture, redrawn on every choice."""
    import ipywidgets as widgets
    import matplotlib.pyplot as plt

    views = {label: load_view(path, label) for label, path in runs.items()}
    if not views:
        raise ValueError("run_explorer needs at least one run directory")
    run = widgets.Dropdown(options=list(views), description="run", layout={"width": "70%"})
    trial = widgets.Dropdown(options=next(iter(views.values())).choices(top), description="trial",
                             layout={"width": "70%"})

    def new_run(change: dict) -> None:
        trial.options = views[change["new"]].choices(top)
        trial.value = 0

    run.observe(new_run, names="value")

    def draw(run: str, trial: int | None) -> None:
        trial_figure(views[run], trial or 0)
        plt.show()

    return widgets.interactive(draw, run=run, trial=trial)
