"""Notebook 05: Figure 5 (scaling MnasNet-A1 and MobileNetV2) and Table 4 (scale down, or search again?).

Figure 5's points are networks of the zoo at several widths and input sizes, evaluated like Table 1's. Table 4
searches again with a target equal to A1 0.35x's latency under our Pixel-1 model (the paper searched at 22 ms, A1
0.35x's latency on its phone) and sets the search's best model beside the scaled ones.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Mapping

import pandas as pd

from mnaslib import paper
from mnaslib.labels import Labelled, render_table
from mnaslib.search.profile import ModelsBudget
from mnaslib.report.recipes.points import (OUR_SEARCH, Context, PointResult, among, any_proxy, evaluate_points, ours,
                                           proxy_train)
from mnaslib.spaces.zoo import MNASNET_SMALL, NetworkPoint, fig5_label, fig5_points
from mnaslib.latency import get_provider
from mnaslib.search.wiring import search_from_profile, search_space
from mnaslib.report.runs import load_run

if TYPE_CHECKING:
    from mnaslib.search.profile import Profile

TABLE4_OURS = {"MobileNetV2 (0.35x)": fig5_label("MobileNetV2", 0.35, 224),
               "MnasNet-A1 (0.35x)": fig5_label("MnasNet-A1", 0.35, 224), "MnasNet-search2": MNASNET_SMALL.label,
               OUR_SEARCH: OUR_SEARCH}


def fig5_results(ctx: Context) -> dict[str, PointResult]:
    """Evaluate every Figure 5 point within the profile's budget."""
    return evaluate_points(fig5_points(), ctx, host=ctx.budget.fig5_host, proxy=ctx.budget.fig5_proxy)


def fig5_table(results: Mapping[str, PointResult], ctx: Context) -> pd.DataFrame:
    """One row per Figure 5 point: the paper's top-1, mult-adds and latency beside ours (params, mult-adds, the
    out-of-sample Pixel-1 prediction, host latency, predicted top-1; proxy accuracy only where opted in)."""
    proxy = any_proxy(results.values())
    rows = []
    for point in fig5_points():
        table = "fig5_mnasnet_a1" if point.family == "arch" else "fig5_mobilenetv2"
        cells = ours(results[point.label], ctx, proxy)
        rows.append({"network": point.label,
                     "paper: top-1 (%)": paper.cell(table, point.note, "top1"),
                     "paper: Pixel-1 latency (ms)": paper.cell(table, point.note, "latency_ms"),
                     **{f"ours: {k}": v for k, v in cells.items() if k != "params (M)"}})
    return render_table(rows)


def table4_target_ms(ctx: Context) -> float:
    """Table 4's search target: MnasNet-A1 at 0.35x under our Pixel-1 model, rounded to 0.1 ms so that a resumed
    search finds the same config."""
    return round(get_provider("pixel1-model", depth_multiplier=0.35).latency("mnasnet-a1").median_ms, 1)


def table4_profile(ctx: Context, target_ms: float) -> "Profile":
    """The profile's search, rewarding ``target_ms`` with the soft constraint (shrunk by the budget's
    ``table4_search``)."""
    return ctx.config.with_overrides({"reward": {"name": "mnas_soft", "target_ms": target_ms},
                                      **ctx.budget.table4_search})


@dataclass(frozen=True)
class SearchOutcome:
    """Table 4's search, summarised by its best-reward model (the model a search hands over)."""

    point: NetworkPoint
    trial_accuracy: float
    trial_latency_ms: float
    target_ms: float
    trials_done: int
    trials_total: int
    budget: str

    @property
    def meets_target(self) -> bool:
        return self.trial_latency_ms <= self.target_ms


def run_table4_search(ctx: Context, target_ms: float) -> SearchOutcome:
    """Run (or resume) the Table 4 search in ``run_dir/table4_search`` and pick its best-reward model."""
    profile = table4_profile(ctx, target_ms)
    folder = ctx.run_dir / "table4_search"
    search_from_profile(profile, folder, progress=False)
    run = load_run(folder)
    if not run.done():
        raise ValueError(f"the Table 4 search in {folder} has no finished child; see the 'error' column of its store")
    best = run.best()[0]
    arch = search_space(profile).decode(list(best.tokens)).with_name(f"search-{best.arch_id}")
    return SearchOutcome(NetworkPoint(OUR_SEARCH, arch, note=f"best of our search at T = {target_ms:g} ms"),
                         best.accuracy.value, best.latency.value, target_ms, len(run.done()), len(run.trials),
                         f"{profile.steps} steps x {profile.batch_size} children")


def table4_results(ctx: Context, fig5: Mapping[str, PointResult], search: SearchOutcome) -> dict[str, PointResult]:
    """Table 4's networks: the two scaled ones from Figure 5's results (proxy-trained now if Table 4's budget opts
    in and Figure 5's did not), mnasnet-small and the search's best model evaluated here."""
    selection = ctx.budget.table4_proxy
    results = {}
    for label in (TABLE4_OURS["MobileNetV2 (0.35x)"], TABLE4_OURS["MnasNet-A1 (0.35x)"]):
        result = fig5[label]
        if result.proxy is None and ModelsBudget.selected(selection, label):
            result = replace(result, proxy=proxy_train(result.point, ctx))
        results[label] = result
    extra = [MNASNET_SMALL, search.point]
    results.update(evaluate_points(extra, ctx, host=among(ctx.budget.table4_host, extra),
                                   proxy=among(selection, extra)))
    return results


def table4(results: Mapping[str, PointResult], search: SearchOutcome) -> pd.DataFrame:
    """Table 4, scale down vs search again: the paper's four rows and our search's best model, the paper's columns,
    which network of ours stands beside each, and whether the found model meets the search's target (a search that
    returns a model slower than its target has not answered Table 4's question); our numbers are ``table4_ours``."""
    table = "table4_scaling"
    rows = []
    for name in list(paper.load_table(table).index) + [OUR_SEARCH]:
        in_paper = name != OUR_SEARCH
        row = {"model": name}
        for column, title in (("params_m", "params (M)"), ("mult_adds_m", "mult-adds (M)"),
                              ("latency_ms", "Pixel-1 latency (ms)"), ("top1", "top-1 (%)")):
            row[f"paper: {title}"] = paper.cell(table, name, column) if in_paper else Labelled.missing("our search")
        result = results.get(TABLE4_OURS.get(name, ""))
        if result is None:
            row["our network"] = "not built: search1's architecture was never published (paper numbers only)"
        else:
            row["our network"] = result.point.label if in_paper else search.point.note  # its blocks: notebook 05
        row["meets the target"] = (
            Labelled.missing() if in_paper else
            Labelled("yes" if search.meets_target else "NO",
                     f"computed: {search.trial_latency_ms:.1f} ms against T = {search.target_ms:g} ms"))
        rows.append(row)
    return render_table(rows)


def table4_ours(results: Mapping[str, PointResult], ctx: Context) -> pd.DataFrame:
    """Our numbers for Table 4's networks (a proxy column only where proxy training was opted in)."""
    proxy = any_proxy(results.values())
    names = {label: name for name, label in TABLE4_OURS.items()}
    return render_table([{"model": names[label], **ours(result, ctx, proxy)} for label, result in results.items()])
