"""Notebook 07: the paper's ablations. Table 5 (reward and search space), Table 2 (SE in the space), Table 6
(layer diversity).

Table 5 and Table 2 compare *searches*. A fair comparison gives every search the same budget, so each one here is
the profile's search (same steps, children per step, proxy task, latency provider, seed) with only the space or the
reward replaced, and runs in its own folder with its own resumable store. Each search is summarised by its
best-reward model, as the paper reports one model per setting; the accuracy is a proxy accuracy and the latency
whatever the configured provider gives (the stored provenance says which), never the paper's ImageNet top-1 or
Pixel-1 measurement, which sit beside them in their own columns.

Table 6 compares fixed networks: MnasNet-A1 and its four single-op variants, counted and timed here, and trained on
the proxy task only where the profile opts in (``notebooks.table6_train``: a one-epoch proxy training ranks networks
at chance); its evidence on ImageNet-trained networks is Accel-NASBench's (``benchmark_searches.layer_diversity``).
The cell-space searches of Table 5 run only where ``notebooks.cell_searches`` is set: no evaluator has a measured
fidelity on cell-space networks, so their claims are "not testable here" either way (``claims.table5_claims``).
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Sequence

import pandas as pd

from mnaslib import paper
from mnaslib.spaces.cell import CellSpace, nasnet_a
from mnaslib.labels import Labelled, Provenance, render_table
from mnaslib.search.profile import Profile, load_profile
from mnaslib.report.runs import load_run
from mnaslib.search.trial import best_rows, finished, provenance_of
from mnaslib.evaluation.train import ProxyTask
from mnaslib.spaces.zoo import TABLE6_MODELS, reference
from mnaslib.search.wiring import PREDICTOR, reuse_identical_run, search_from_profile
from mnaslib.latency import get_provider
from mnaslib.spaces.counting import summarize
from mnaslib.evaluation.jobs import Job
from mnaslib.evaluation.worker import ProxyEvaluator


@dataclass(frozen=True)
class AblationSearch:
    """One search of an ablation: what replaces the profile's space or reward, and the paper row it stands beside.

    ``reward`` None keeps the profile's (multi-objective) reward. ``paper_rows`` maps a paper table name to the row
    of that table this search reproduces.
    """

    key: str
    label: str
    space: dict
    reward: dict | None
    paper_rows: tuple[tuple[str, str], ...]

    def paper_row(self, table: str) -> str | None:
        return dict(self.paper_rows).get(table)


def ablation_searches(profile: str | os.PathLike | Profile) -> list[AblationSearch]:
    """The four searches behind Tables 5 and 2 (the multi-objective MnasNet search serves both tables).

    The cell space is the profile's ``notebooks.cell_space``: tiny at ``ci`` (2 blocks per cell, 1 normal cell per
    stage, so that a child trains in seconds), NASNet's B = 5 blocks with N = 2 normal cells per stage at ``laptop``
    (at N = 4 a cell child trained in ~70 s against ~27 s for a MnasNet child), NASNet-A Mobile's stacking (N = 4)
    at ``paper``. Every search's label says which.
    """
    cells = dict(load_profile(profile).notebooks.cell_space)
    shape = CellSpace(**{k: v for k, v in cells.items() if k != "name"})
    cell_label = f"cell-based space (B={shape.blocks}, N={shape.num_cells})"
    return [
        AblationSearch("single_objective_cells", f"single-objective (accuracy), {cell_label}", cells,
                       {"name": "accuracy"}, (("table5_ablation", "Single-objective, Cell-based (NASNet)"),)),
        AblationSearch("multi_objective_cells", f"multi-objective, {cell_label}", cells, None,
                       (("table5_ablation", "Multi-objective, Cell-based"),)),
        AblationSearch("multi_objective_mnasnet", "multi-objective, MnasNet space (with SE)", {"name": "mnasnet"},
                       None, (("table5_ablation", "Multi-objective, MnasNet"), ("table2_se", "MnasNet-A1"))),
        AblationSearch("multi_objective_mnasnet_no_se", "multi-objective, MnasNet space without SE",
                       {"name": "mnasnet", "se": False}, None, (("table2_se", "MnasNet-B1"),)),
    ]


def searches_to_run(profile: str | os.PathLike | Profile) -> tuple[list[AblationSearch], list[AblationSearch]]:
    """``(run, skipped)``: the ablation searches this profile runs, and the cell-space ones it leaves out
    (``notebooks.cell_searches`` false, the laptop's default)."""
    cells_on = load_profile(profile).notebooks.cell_searches
    searches = ablation_searches(profile)
    return ([s for s in searches if cells_on or s.space.get("name") == "mnasnet"],
            [s for s in searches if not cells_on and s.space.get("name") != "mnasnet"])


def ablation_profile(profile: str | os.PathLike | Profile, search: AblationSearch,
                     seed: int | None = None) -> Profile:
    """The profile's search with this ablation's space and reward *replacing* the profile's (and ``seed`` its seed
    where given: None keeps the profile's).

    Replaced, not merged: merging ``{"name": "accuracy"}`` into ``{"name": "mnas_soft", "target_ms": 75}`` would
    keep a target the accuracy reward refuses, and merging a cell space into the MnasNet one would mix options.
    The accuracy predictor learnt from Accel-NASBench (``evaluator: accel-predictor``) reads MBConv networks only, so
    a cell-space search of such a profile scores its children by NASWOT instead; its label says so, and
    ``claims.table5_claims`` then gives no accuracy verdict across the two spaces.
    """
    base = load_profile(profile, {} if seed is None else {"seed": int(seed)})
    changes: dict[str, Any] = {}
    if search.space.get("name") != "mnasnet" and (base.evaluator or {}).get("name") == PREDICTOR:
        changes["evaluator"] = {"name": "naswot"}
    return base.search_with(space=dict(search.space),
                            reward=dict(search.reward) if search.reward is not None else base.reward, **changes)


@dataclass(frozen=True)
class SearchSummary:
    """A finished ablation search: its trials and its best-reward model, with provenance for every number."""

    search: AblationSearch
    config: Profile
    trials: pd.DataFrame
    reused_from: Path | None = None

    @property
    def done(self) -> pd.DataFrame:
        return finished(self.trials)

    @property
    def best(self) -> pd.Series:
        """The finished trial with the highest reward (the model the search would hand over)."""
        best = best_rows(self.trials, 1)
        if best.empty:
            raise ValueError(f"search {self.search.key!r} has no finished trial ({len(self.trials)} trials, all "
                             "failed or pending); see the 'error' column of its store")
        return best.iloc[0]

    @property
    def budget(self) -> str:
        return f"{self.config.steps} steps x {self.config.batch_size} children"

    def proxy_label(self, trial: pd.Series) -> Provenance:
        """``proxy (<task>; search budget <steps> x <children>)`` for an accuracy of this search (or the
        benchmark's or surrogate's label, with the budget added the same way)."""
        found = provenance_of(trial, "accuracy") or Provenance("proxy")
        budget = f"search budget {self.budget}"
        return Provenance(found.kind, f"{found.detail}; {budget}" if found.detail else budget)


def run_ablation_search(profile: str | os.PathLike | Profile, search: AblationSearch, run_dir: str | os.PathLike,
                        seed: int | None = None, progress: bool = True, reuse: Sequence[str | os.PathLike] = ()
                        ) -> SearchSummary:
    """Run (or resume, or reuse when complete) one ablation search in ``run_dir/<key>`` and summarise it.

    ``reuse`` lists other run folders (notebook 03's searches, say): a finished one with exactly this search's
    config is copied instead of searched again, and ``reused_from`` says which.
    """
    config = ablation_profile(profile, search, seed)
    folder = Path(run_dir) / search.key
    reused_from = reuse_identical_run(config, folder, reuse)
    search_from_profile(config, folder, progress=progress)
    return SearchSummary(search, config, load_run(folder).frame, reused_from)


# what the reward calls ACC: an accuracy (trained, predicted) or, for NASWOT-scored children, a score; each cell's
# label says which
ACC_COLUMN = "best model: ACC (accuracy or score)"


def _search_row(summary: SearchSummary, table: str) -> dict[str, Any]:
    best = summary.best
    row = summary.search.paper_row(table)
    done, total = len(summary.done), len(summary.trials)
    return {
        "search": summary.search.label,
        "children done": Labelled(f"{done} of {total}", "computed"),
        ACC_COLUMN: Labelled(best["accuracy"], summary.proxy_label(best), "{:.3f}"),
        "best model: latency (ms)": Labelled(best["latency_ms"], provenance_of(best, "latency"), "{:.0f}"),
        "paper row": row or "-",
        "paper top-1 (%)": paper.cell(table, row, "top1"),
        "paper latency (ms)": paper.cell(table, row, "latency_ms"),
    }


def _skipped_row(search: AblationSearch, table: str, reason: str) -> dict[str, Any]:
    row = search.paper_row(table)
    return {"search": search.label, ACC_COLUMN: Labelled.missing(reason),
            "best model: latency (ms)": Labelled.missing(reason), "paper row": row,
            "paper top-1 (%)": paper.cell(table, row, "top1"),
            "paper latency (ms)": paper.cell(table, row, "latency_ms")}


def table5(summaries: Iterable[SearchSummary], skipped: Iterable[AblationSearch] = (),
           skipped_reason: str = "not run") -> pd.DataFrame:
    """Table 5: each search's best model beside the paper's row (searches without a Table 5 row are left out), and
    a row saying ``skipped_reason`` for each search in ``skipped``, in the paper's order."""
    rows = {s.search.key: _search_row(s, "table5_ablation") for s in summaries
            if s.search.paper_row("table5_ablation")}
    rows.update({s.key: _skipped_row(s, "table5_ablation", skipped_reason) for s in skipped
                 if s.paper_row("table5_ablation")})
    if not rows:
        raise ValueError("none of the given searches has a Table 5 row")
    order = [s.key for s in ablation_searches("ci")]
    return render_table([rows[key] for key in sorted(rows, key=order.index)])


def table2_se(summaries: Iterable[SearchSummary]) -> pd.DataFrame:
    """Table 2's SE study: the MnasNet space searched with and without SE, beside the paper's B1 and A1."""
    rows = []
    for summary in summaries:
        if summary.search.paper_row("table2_se"):
            row = _search_row(summary, "table2_se")
            row["SE in space"] = "no" if summary.config.space.get("se") is False else "yes"
            rows.append(row)
    if not rows:
        raise ValueError("none of the given searches has a Table 2 row")
    return render_table(rows)


def cell_space_reference(space: CellSpace) -> pd.DataFrame:
    """NASNet-A's cells stacked by ``space`` at 224x224: computed counts and predicted latency beside Table 1's
    NASNet-A, to show the cell space's networks are mobile-sized like the paper's cell-based baseline."""
    arch = nasnet_a(space.num_cells, space.filters, space.stem_filters, space.stem_cells)
    model = arch.build()
    counts = summarize(model)
    latency = get_provider("pixel1-model").latency(model)
    setting = f"N={space.num_cells}, F={space.filters}, B={len(arch.normal)}"
    return render_table([
        {"network": f"NASNet-A's cells in our cell space ({setting})",
         "params (M)": Labelled(counts["trainable_params"] / 1e6, "computed", "{:.2f}"),
         "mult-adds (M)": Labelled(counts["mult_adds"] / 1e6, "computed", "{:.0f}"),
         "latency (ms)": Labelled(latency.median_ms, latency.provenance, "{:.0f}")},
        {"network": "NASNet-A (paper, Table 1)", "params (M)": paper.cell("table1_imagenet", "NASNet-A", "params_m"),
         "mult-adds (M)": paper.cell("table1_imagenet", "NASNet-A", "mult_adds_m"),
         "latency (ms)": paper.cell("table1_imagenet", "NASNet-A", "latency_ms")},
    ])


# ---------------------------------------------------------------------------------------------------------------
# Table 6: layer diversity
# ---------------------------------------------------------------------------------------------------------------
def _calibration_loo_ms(model_name: str) -> float:
    """The Pixel-1 model's leave-one-out prediction for a network it was fitted on (NaN if it was not).

    The four Table 6 variants and A1 are calibration points of the Pixel-1 model, so its prediction for them is a
    fit to the paper's own latency, not evidence; the leave-one-out value (the model refitted without this network)
    is the honest out-of-sample number.
    """
    from mnaslib.latency.pixel1 import load_pixel1_model  # lazy: keeps scikit-learn out of this module's import

    for point in load_pixel1_model().points:
        if point["model"] == model_name and point["multiplier"] == 1.0 and point["input_size"] == 224:
            return float(point["loo_ms"])
    return math.nan


def layer_diversity(task: ProxyTask, train: Sequence[str], models: Sequence[tuple[str, str]] = TABLE6_MODELS
                    ) -> pd.DataFrame:
    """Table 6's numbers, raw: per model, computed params and mult-adds (224x224), the predicted Pixel-1 latency
    (in-sample and leave-one-out), and the proxy accuracy of the models named in ``train`` (NaN for the others).

    Every model in ``train`` is trained on the same ``task`` with the same seed, so their accuracies are comparable
    with each other (and only with each other).
    """
    names = [name for name, _ in models]
    unknown = set(train) - set(names)
    if unknown:
        raise ValueError(f"cannot train {sorted(unknown)}: not among the Table 6 models {names}")
    provider = get_provider("pixel1-model")
    rows = []
    for name, paper_row in models:
        arch = reference(name)
        counts = summarize(arch.build())
        latency = provider.latency(arch)
        row = {"model": name, "paper_row": paper_row, "params": counts["trainable_params"],
               "mult_adds": counts["mult_adds"], "latency_ms": latency.median_ms,
               "latency_provenance": latency.provenance.label, "latency_loo_ms": _calibration_loo_ms(name),
               "accuracy": math.nan, "proxy": task.describe(), "trained": name in train}
        if name in train:  # the evaluator a search's children get, every model at the task's seed
            row["accuracy"] = ProxyEvaluator(task)(Job(0, arch, task.seed)).accuracy
        rows.append(row)
    return pd.DataFrame(rows)


def table6(raw: pd.DataFrame, not_trained_reason: str) -> pd.DataFrame:
    """The display table of ``layer_diversity``'s numbers, every cell labelled; ``not_trained_reason`` fills the
    accuracy of models that were not trained (e.g. 'not run at ci')."""
    rows = []
    for r in raw.itertuples(index=False):
        accuracy = (Labelled(r.accuracy, f"proxy ({r.proxy}; one child each)", "{:.3f}") if r.trained
                    else Labelled.missing(not_trained_reason))
        calibrated = not math.isnan(r.latency_loo_ms)
        loo = (Labelled(r.latency_loo_ms, "predicted (Pixel-1 model refitted without this network)", "{:.1f}")
               if calibrated else Labelled.missing("not a calibration point of the Pixel-1 model"))
        rows.append({
            "model": r.model,
            "params (M)": Labelled(r.params / 1e6, "computed", "{:.2f}"),
            "mult-adds (M)": Labelled(r.mult_adds / 1e6, "computed", "{:.1f}"),
            "latency (ms)": Labelled(r.latency_ms, r.latency_provenance + (", fitted on this network" if calibrated
                                                                           else ""), "{:.1f}"),
            "latency, leave-one-out (ms)": loo,
            "accuracy": accuracy,
            "paper top-1 (%)": paper.cell("table6_layer_diversity", r.paper_row, "top1"),
            "paper latency (ms)": paper.cell("table6_layer_diversity", r.paper_row, "latency_ms"),
        })
    return render_table(rows)
