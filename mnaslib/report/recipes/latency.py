"""Notebook 02: latency instead of mult-adds: baselines timed and predicted, the Pixel-1 model against every
published point (leave-one-out and grouped), and the host layer-table model against held-out measurements."""
from __future__ import annotations

from typing import Iterable

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from mnaslib.spaces.buildable import BuildOptions
from mnaslib.spaces.counting import summarize
from mnaslib import paper
from mnaslib.labels import Labelled, render_table
from mnaslib.spaces.zoo import network


def latency_table(names: Iterable[str], providers: dict[str, object], input_size: int = 224) -> pd.DataFrame:
    """Mult-adds and each provider's latency for named networks; every latency cell carries its provider's label,
    and a plain ``<provider> (ms)`` column keeps the number for ratios."""
    rows = []
    for name in names:
        model = network(name).build(BuildOptions(input_size=input_size))
        row = {"model": name, "mult-adds (M)": Labelled(summarize(model)["mult_adds"] / 1e6, "computed", "{:.1f}")}
        for column, provider in providers.items():
            result = provider.latency(model)
            row[column] = Labelled(result.median_ms, result.provenance, "{:.2f}")
            row[f"{column} (ms)"] = result.median_ms
        rows.append(row)
    return render_table(rows)


def pixel1_points_table(model) -> pd.DataFrame:
    """Every published Pixel-1 point the Pixel-1 model was fitted on, with its leave-one-out error and its errors
    when its whole family, width or resolution was held out (nested grouped CV)."""
    return render_table([{
        "point": p["point"],
        "published (ms)": paper.value(*p["source"].split(": ", 1), "latency_ms").cell(),
        "leave-one-out prediction (ms)": Labelled(p["loo_ms"], "predicted, LOO", "{:.1f}"),
        "LOO error": f"{100 * p['loo_error']:+.1f}%",
        **{f"{scheme} held out": f"{100 * (ms / p['latency_ms'] - 1):+.1f}%" for scheme, ms in p["heldout_ms"].items()},
        "source": p["source"],
    } for p in model.points])


def residual_figure(model) -> Figure:
    """Held-out errors against width multiplier (width held out) and input size (resolution held out), each band's
    mean marked, the +-5% goal shaded: where a model leans when it extrapolates."""
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8), sharey=True)
    for ax, scheme, key in ((axes[0], "width", "multiplier"), (axes[1], "resolution", "input_size")):
        x = np.array([p[key] for p in model.points], dtype=float)
        errors = np.array([100 * (p["heldout_ms"][scheme] / p["latency_ms"] - 1) for p in model.points])
        ax.axhspan(-5, 5, color="0.92")
        ax.axhline(0, color="0.5", linewidth=0.8)
        ax.scatter(x, errors, s=14, alpha=0.7, label="point (its band held out)")
        bands = sorted(set(x))
        ax.plot(bands, [errors[x == b].mean() for b in bands], "D-", color="C3", label="band mean")
        ax.set_xlabel(f"{'width multiplier' if key == 'multiplier' else 'input size (px)'}")
        ax.set_title(f"leave one {scheme} out")
    axes[0].set_ylabel(f"error (%) [predicted ({model.device} model) vs paper]")
    axes[0].legend(fontsize="small")
    fig.tight_layout()
    return fig


def host_model_check_table(calibration, rows: list[dict]) -> pd.DataFrame:
    """The host model's held-out test rows (from ``layer_table.held_out_check``), each cell labelled."""
    predicted = f"predicted (host layer table, {calibration.label})"
    return render_table([{"id": r["arch_id"], "predicted (ms)": Labelled(r["predicted_ms"], predicted, "{:.2f}"),
                          "measured (ms)": Labelled(r["measured_ms"], "measured (host, table protocol)", "{:.2f}"),
                          "error": Labelled(r["error"], "computed", "{:+.1%}")} for r in rows])


def host_model_reading(calibration, rows: list[dict]) -> list[str]:
    """The host model's calibration line and its held-out accuracy (share of random architectures within +-10% and
    +-5% of their measured latency), as notebook 02 prints them beside :func:`host_model_check_table`."""
    errors = np.abs([r["error"] for r in rows])
    return [f"calibration: measured = {calibration.a:.3f} * layer sum + {calibration.b:.3f} ms "
            f"on {calibration.calibration_networks} reference networks",
            f"held out: within +-10%: {np.mean(errors <= 0.10):.0%}, within +-5%: {np.mean(errors <= 0.05):.0%} "
            f"of {len(rows)} random architectures [computed from measured and predicted]"]


def _paper_v1_and_nasnet() -> tuple[paper.PaperValue, paper.PaperValue]:
    """Table 1's Pixel-1 latencies of MobileNetV1 and NASNet-A: ~equal mult-adds, very different latency."""
    v1, nas = (paper.value("table1_imagenet", row, "latency_ms") for row in ("MobileNetV1", "NASNet-A"))
    return v1, nas


def nasnet_over_mobilenet(table: pd.DataFrame, column: str) -> float | None:
    """NASNet-A's latency over MobileNetV1's in one provider's column of :func:`latency_table`; None when the
    profile did not time both networks."""
    by_name = table.set_index("model")
    if not {"keras-nasnetmobile", "keras-mobilenet"} <= set(by_name.index):
        return None
    return by_name.at["keras-nasnetmobile", f"{column} (ms)"] / by_name.at["keras-mobilenet", f"{column} (ms)"]


def mult_adds_reading(table: pd.DataFrame) -> list[str]:
    """Notebook 02's first reading: the paper's NASNet-A / MobileNetV1 latency ratio at ~equal mult-adds, then ours
    under the host measurement and the Pixel-1 prediction (when the profile timed both networks)."""
    v1, nas = _paper_v1_and_nasnet()
    lines = [f"paper: NASNet-A / MobileNetV1 latency = {nas.value / v1.value:.2f} [paper {v1.status}] at ~equal "
             "mult-adds"]
    for column, kind in (("host", "measured"), ("Pixel-1", "predicted")):
        ratio = nasnet_over_mobilenet(table, column)
        if ratio is not None:
            lines.append(f"{column}: NASNet-A / MobileNetV1 latency = {ratio:.2f} [{kind}]")
    return lines


def latency_checks(table: pd.DataFrame, model) -> pd.DataFrame:
    """Notebook 02's verdicts: the paper's mult-adds-vs-latency claim (MobileNetV1 and NASNet-A, ~equal mult-adds,
    NASNet-A much slower) under our host measurement and our Pixel-1 prediction, with the rule of
    ``claims.DIFFERENT_LATENCY``; and the Pixel-1 latencies themselves, which only a phone can check."""
    from mnaslib.report.claims import DIFFERENT_LATENCY  # lazy: keeps SciPy out of this module's import

    v1, nas = _paper_v1_and_nasnet()
    rows = []
    for column, kind in (("host", "measured"), ("Pixel-1", "predicted")):
        claim = f"NASNet-A is >= {DIFFERENT_LATENCY:g}x slower than MobileNetV1 at ~equal mult-adds ({column})"
        published = Labelled(nas.value / v1.value, f"computed from paper ({v1.status}, {nas.status})", "{:.2f}x")
        ratio = nasnet_over_mobilenet(table, column)
        if ratio is None:
            rows.append({"claim": claim, "paper": published, "ours": Labelled.missing("not timed at this profile"),
                         "verdict": "not run at this profile"})
            continue
        rows.append({"claim": claim, "paper": published, "ours": Labelled(ratio, kind, "{:.2f}x"),
                     "verdict": "holds" if ratio >= DIFFERENT_LATENCY else "does not hold"})
    error = model.validation["grouped_mape"]
    rows.append({"claim": "Pixel-1 latencies of the paper's networks (single big core, batch 1)",
                 "paper": "Tables 1-6", "ours": Labelled(f"predicted, grouped-CV MAPE {100 * error:.1f}%", "predicted"),
                 "verdict": "not testable here: no Pixel 1 attached"})
    return render_table(rows)
