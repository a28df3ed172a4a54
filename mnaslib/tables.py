"""Tables that put our numbers beside the paper's, every cell labelled with its provenance.

Notebooks only display these; keeping them here means the same table is built the same way in every notebook, in
the reproduction report and in tests.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Iterable

import numpy as np
import pandas as pd

from mnaslib import paper
from mnaslib.models import build_any
from mnaslib.counting import summarize
from mnaslib.space import MnasNetSpace


@dataclass(frozen=True)
class BuildableModel:
    """A model we can build, and the row of the paper's Table 1 it corresponds to (None: not in Table 1)."""

    label: str
    builder: str
    paper_row: str | None
    depth_multiplier: float = 1.0


TABLE1_BUILDABLE = (
    BuildableModel("MobileNetV1", "keras-mobilenet", "MobileNetV1"),
    BuildableModel("MobileNetV2", "keras-mobilenetv2", "MobileNetV2"),
    BuildableModel("MobileNetV2 (1.4x)", "keras-mobilenetv2-1.4", "MobileNetV2 (1.4x)"),
    BuildableModel("NASNet-A (Keras NASNetMobile)", "keras-nasnetmobile", "NASNet-A"),
    BuildableModel("MnasNet-A1", "mnasnet-a1", "MnasNet-A1"),
    BuildableModel("MnasNet-B1", "mnasnet-b1", None),
    BuildableModel("MnasNet-small", "mnasnet-small", None),
    BuildableModel("MnasNet-D1", "mnasnet-d1", None),
)


def label(value: float, provenance: str, fmt: str = "{:.1f}") -> str:
    """One table cell: ``3.9 [computed]``; a missing value is '-'."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return f"{fmt.format(value)} [{provenance}]"


def _paper_cell(row: str | None, column: str, fmt: str = "{:g}") -> str:
    if row is None:
        return "- [not in the paper's table]"
    try:
        number = paper.value("table1_imagenet", row, column)
    except LookupError:
        return "-"
    return f"{fmt.format(number.value)} [paper {number.status}{', uncertain' if number.status == 'U' else ''}]"


def reference_counts(models: Iterable[BuildableModel] = TABLE1_BUILDABLE, input_size: int = 224) -> pd.DataFrame:
    """Params and mult-adds we compute for each buildable reference model, beside Table 1's."""
    rows = []
    for model in models:
        counts = summarize(build_any(model.builder, input_size=input_size))
        rows.append({
            "model": model.label,
            "params (M)": label(counts["trainable_params"] / 1e6, "computed", "{:.2f}"),
            "params, paper (M)": _paper_cell(model.paper_row, "params_m"),
            "mult-adds (M)": label(counts["mult_adds"] / 1e6, "computed"),
            "mult-adds, paper (M)": _paper_cell(model.paper_row, "mult_adds_m"),
            "total params incl. BN statistics": label(counts["total_params"], "computed", "{:,}"),
        })
    return pd.DataFrame(rows)


def sample_table(space: MnasNetSpace, n: int, seed: int, input_size: int = 224) -> pd.DataFrame:
    """``n`` uniformly sampled architectures: their id, block strings, params and mult-adds (computed)."""
    rng = np.random.default_rng(seed)
    rows = []
    for _ in range(n):
        arch = space.decode(space.sample(rng))
        counts = summarize(build_any(arch, input_size=input_size))
        rows.append({"id": arch.arch_id, "layers": arch.num_layers,
                     "ops": " ".join(b.conv_op for b in arch.blocks),
                     "params (M) [computed]": round(counts["trainable_params"] / 1e6, 2),
                     "mult-adds (M) [computed]": round(counts["mult_adds"] / 1e6, 1),
                     "block strings": " ".join(arch.block_strings())})
    return pd.DataFrame(rows)


def latency_table(builders: Iterable[str], providers: dict[str, object], input_size: int = 224) -> pd.DataFrame:
    """Mult-adds and each provider's latency for named models; every latency cell carries its provider's label."""
    rows = []
    for name in builders:
        model = build_any(name, input_size=input_size)
        row = {"model": name, "mult-adds (M)": label(summarize(model)["mult_adds"] / 1e6, "computed")}
        for column, provider in providers.items():
            result = provider.latency(model)
            row[column] = label(result.median_ms, str(result.provenance), "{:.2f}")
            row[f"{column} (ms)"] = result.median_ms
        rows.append(row)
    return pd.DataFrame(rows)


def pixel1_points_table(model) -> pd.DataFrame:
    """Every published Pixel-1 point the Pixel-1 model was fitted on, with its leave-one-out prediction and error."""
    table = pd.DataFrame(model.points)
    return pd.DataFrame({
        "point": table["point"],
        "published (ms)": [f"{v:g} [paper {s}{', uncertain' if s == 'U' else ''}]"
                           for v, s in zip(table["latency_ms"], table["status"])],
        "leave-one-out prediction (ms)": [label(v, "predicted, LOO") for v in table["loo_ms"]],
        "error": [f"{100 * e:+.1f}%" for e in table["loo_error"]],
        "source": table["source"],
    })


def host_model_check_table(calibration, rows: list[dict]) -> pd.DataFrame:
    """The host model's held-out test rows (from ``layer_table.held_out_check``), each cell labelled."""
    predicted = f"predicted (host layer table, {calibration.label})"
    return pd.DataFrame({"id": [r["arch_id"] for r in rows],
                         "predicted (ms)": [f"{r['predicted_ms']:.2f} [{predicted}]" for r in rows],
                         "measured (ms)": [f"{r['measured_ms']:.2f} [measured (host, table protocol)]" for r in rows],
                         "error": [f"{r['error']:+.1%} [computed]" for r in rows]})
