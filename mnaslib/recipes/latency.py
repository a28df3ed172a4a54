"""Notebook 02: latency instead of mult-adds: baselines timed and predicted, the Pixel-1 model against every
published point, and the host layer-table model against held-out measurements."""
from __future__ import annotations

from typing import Iterable

import pandas as pd

from mnaslib.buildable import BuildOptions
from mnaslib.counting import summarize
from mnaslib.labels import Labelled, paper_provenance, render_table
from mnaslib.zoo import network


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
    """Every published Pixel-1 point the Pixel-1 model was fitted on, with its leave-one-out prediction and error."""
    return render_table([{
        "point": p["point"],
        "published (ms)": Labelled(p["latency_ms"], paper_provenance(p["status"])),
        "leave-one-out prediction (ms)": Labelled(p["loo_ms"], "predicted, LOO", "{:.1f}"),
        "error": f"{100 * p['loo_error']:+.1f}%",
        "source": p["source"],
    } for p in model.points])


def host_model_check_table(calibration, rows: list[dict]) -> pd.DataFrame:
    """The host model's held-out test rows (from ``layer_table.held_out_check``), each cell labelled."""
    predicted = f"predicted (host layer table, {calibration.label})"
    return render_table([{"id": r["arch_id"], "predicted (ms)": Labelled(r["predicted_ms"], predicted, "{:.2f}"),
                          "measured (ms)": Labelled(r["measured_ms"], "measured (host, table protocol)", "{:.2f}"),
                          "error": Labelled(r["error"], "computed", "{:+.1%}")} for r in rows])
