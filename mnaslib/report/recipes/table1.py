"""Notebook 04: Table 1 (ImageNet models), its claims, and Table 2 (squeeze-and-excitation).

``results`` evaluates every Table 1 network we can build within the profile's budget; ``table`` and ``table2`` put
our numbers beside the paper's, every cell labelled; ``mnaslib.report.claims.table1_claims`` tests the paper's sentences
on them, and ``mnaslib.report.plots.figures.table1_figure`` draws them.
"""
from __future__ import annotations

from typing import Mapping

import pandas as pd

from mnaslib import paper
from mnaslib.labels import Labelled, render_table
from mnaslib.report.recipes.points import Context, PointResult, any_proxy, evaluate_points, ours
from mnaslib.spaces.zoo import NOT_BUILT, NOT_IN_MNASLIB, TABLE1_MODELS, NetworkPoint
from mnaslib.report.claims import accuracy_verdict, unscored_verdict

PAPER_TABLE = "table1_imagenet"


def results(ctx: Context) -> dict[str, PointResult]:
    """Evaluate every Table 1 network we can build, within the profile's budget."""
    return evaluate_points(TABLE1_MODELS, ctx, host=ctx.budget.table1_host, proxy=ctx.budget.table1_proxy)


def table(results: Mapping[str, PointResult]) -> pd.DataFrame:
    """Every row of the paper's Table 1 with the paper's columns, and which network of ours stands beside it
    (MnasNet-B1, a Table 2 network, is appended so the SE pair sits together); our numbers are ``ours_table``."""
    rows = []
    frame = paper.load_table(PAPER_TABLE)
    paper_rows = list(frame.index)
    for name in paper_rows + [r for r in results if r not in paper_rows]:
        in_table = name in paper_rows
        row = {"model": name, "type": frame.at[name, "type"] if in_table else "automated"}
        for column, title in (("params_m", "params (M)"), ("mult_adds_m", "mult-adds (M)"), ("top1", "top-1 (%)"),
                              ("top5", "top-5 (%)"), ("latency_ms", "Pixel-1 latency (ms)")):
            row[f"paper: {title}"] = (paper.cell(PAPER_TABLE, name, column) if in_table
                                      else Labelled.missing("not in the paper's Table 1; see Table 2"))
        row["our network"] = results[name].point.note if name in results else NOT_BUILT.get(name, NOT_IN_MNASLIB)
        rows.append(row)
    return render_table(rows)


def ours_table(results: Mapping[str, PointResult], ctx: Context) -> pd.DataFrame:
    """Our numbers for every Table 1 network we build, one labelled cell each (a proxy column only where proxy
    training was opted in)."""
    proxy = any_proxy(results.values())
    return render_table([{"model": name, **ours(result, ctx, proxy)} for name, result in results.items()])


def table2(results: Mapping[str, PointResult], ctx: Context) -> pd.DataFrame:
    """Table 2 (the SE study): the paper's top-1 and latency beside ours for the networks we build (B1 and A1 are
    the pair that matters: B1 was searched without SE, A1 with it)."""
    se_table = "table2_se"
    ours_for = {"MobileNetV2": "MobileNetV2", "NASNet": "NASNet-A", "MnasNet-B1": "MnasNet-B1",
                "MnasNet-A1": "MnasNet-A1"}
    frame = paper.load_table(se_table)
    rows = []
    for name in frame.index:
        row = {"model": name, "SE in space": frame.at[name, "se_in_space"],
               "paper: top-1 (%)": paper.cell(se_table, name, "top1"),
               "paper: Pixel-1 latency (ms)": paper.cell(se_table, name, "latency_ms")}
        result = results.get(ours_for.get(name, ""))
        if result is None:
            reason = NOT_BUILT.get(name, NOT_IN_MNASLIB)
            row.update({"ours: SE blocks": Labelled.missing(reason),
                        **{f"ours: {k}": Labelled.missing("paper only") for k in TABLE2_OURS}})
        else:
            cells = ours(result, ctx)
            row.update({"ours: SE blocks": _se_blocks(result.point),
                        **{f"ours: {k}": cells[k] for k in TABLE2_OURS}})
        rows.append(row)
    return render_table(rows)


TABLE2_OURS = ("predicted top-1 (%)", "Pixel-1 latency, out of sample (ms)", "host latency (ms)")


def _se_blocks(point: NetworkPoint) -> Labelled:
    if point.family != "arch":
        return Labelled(0, "computed: Keras application without SE")
    arch = point.architecture
    return Labelled(f"{sum(b.se_ratio > 0 for b in arch.blocks)} of {len(arch.blocks)}", "computed")


def se_effect(results: Mapping[str, PointResult], ctx: Context) -> pd.DataFrame:
    """What SE buys, A1 minus B1 (same search, B1 without SE in the space): the paper's differences beside ours,
    with a verdict (``verdicts.verdict``): the predicted accuracy gap must clear the predictor's verdict-part RMSE; a
    proxy accuracy gap decides only where the proxy's measured fidelity allows; latencies are judged by direction."""
    a1, b1 = results["MnasNet-A1"], results["MnasNet-B1"]

    def paper_difference(column: str, unit: str) -> Labelled:
        a, b = (paper.value("table2_se", row, column) for row in ("MnasNet-A1", "MnasNet-B1"))
        return Labelled(a.value - b.value, f"computed from paper values: A1 {a.label}, B1 {b.label}",
                        "{:+.1f}" + unit)

    top1, latency = paper_difference("top1", " points top-1"), paper_difference("latency_ms", " ms")
    unscored = next((r for r in (a1, b1) if r.predicted.is_missing), None)
    if unscored is not None:
        predicted = Labelled.missing("no predicted top-1")
        judged = unscored_verdict(unscored)
    else:
        gap = a1.predicted.value - b1.predicted.value
        predicted = Labelled(gap, f"computed from {ctx.predictor.provenance.label}", "{:+.2f} points")
        judged = accuracy_verdict(gap, top1.value, "predicted", ctx)
    rows = [{"A1 - B1": "accuracy (ours: predicted top-1)", "paper": top1, "ours": predicted, "verdict": judged}]
    if a1.proxy_accuracy is not None and b1.proxy_accuracy is not None:
        gap = 100 * (a1.proxy_accuracy - b1.proxy_accuracy)
        rows.append({"A1 - B1": "accuracy (ours: proxy)", "paper": top1,
                     "ours": Labelled(gap, f"computed from {ctx.proxy_provenance.label}", "{:+.1f} points"),
                     "verdict": accuracy_verdict(gap, top1.value, "proxy", ctx)})
    latencies = [("latency (ours: Pixel-1, held out)", a1.pixel1_out_of_sample_ms - b1.pixel1_out_of_sample_ms,
                  f"computed from held-out predictions, {ctx.pixel1.label}")]
    if a1.host is not None and b1.host is not None:
        latencies.append(("latency (ours: host measured)", a1.host.median_ms - b1.host.median_ms,
                          f"computed from {a1.host.provenance.label}"))
    for what, gap, label in latencies:
        rows.append({"A1 - B1": what, "paper": latency, "ours": Labelled(gap, label, "{:+.1f} ms"),
                     "verdict": "direction holds" if gap * latency.value > 0 else "does not hold"})
    return render_table(rows)
