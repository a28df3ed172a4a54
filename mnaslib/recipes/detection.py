"""Notebook 06: Table 3 (COCO detection) as we can reproduce it: SSDLite detectors counted under each head
convention beside the paper's rows, mAP and latency quoted."""
from __future__ import annotations

from typing import Iterable

import pandas as pd

from mnaslib import paper
from mnaslib.detection import BACKBONES, CONVENTIONS, PAPER_TABLE, HeadConvention
from mnaslib.labels import Labelled, render_table


def labelled_counts(counts: pd.DataFrame) -> pd.DataFrame:
    """A display copy of :func:`convention_counts`: every number labelled with its provenance."""
    return render_table([{
        "backbone": r.backbone,
        "convention": r.convention,
        "params (M)": Labelled(r.params / 1e6, "computed", "{:.3f}"),
        "params, paper (M)": r.paper_params_label,
        "params difference (M)": Labelled(r.params_diff_m, "computed - paper", "{:+.3f}"),
        "mult-adds (B)": Labelled(r.mult_adds / 1e9, "computed", "{:.3f}"),
        "mult-adds, paper (B)": r.paper_mult_adds_label,
        "mult-adds difference (B)": Labelled(r.mult_adds_diff_b, "computed - paper", "{:+.3f}"),
        "rounds to the paper (params, mult-adds)": f"{'yes' if r.params_match else 'no'}, "
                                                   f"{'yes' if r.mult_adds_match else 'no'}",
    } for r in counts.itertuples(index=False)])


def table3(counts: pd.DataFrame) -> pd.DataFrame:
    """Table 3 as we can reproduce it: every row of the paper's table, with our params and mult-adds under each
    head convention in ``counts`` (from :func:`convention_counts`) beside the paper's, and the paper's latency and
    COCO mAP quoted.

    Every cell carries its provenance. mAP is only ever quoted: training on COCO is out of reach here. YOLOv2 and
    SSD300/512 are not built (they are not mobile detectors; the paper lists them for scale).
    """
    conventions = list(dict.fromkeys(counts["convention"]))
    by_row = {spec.paper_row: spec for spec in BACKBONES if (counts["backbone"] == spec.name).any()}
    rows = []
    for paper_row in paper.load_table(PAPER_TABLE).index:
        spec = by_row.get(paper_row)
        ours = counts[counts["backbone"] == spec.name].set_index("convention") if spec else None
        row = {"detector": paper_row}
        for column, unit, scale, fmt in (("params", "params (M)", 1e6, "{:.2f}"),
                                         ("mult_adds", "mult-adds (B)", 1e9, "{:.3f}")):
            for name in conventions:
                row[f"{unit}, {name}"] = (Labelled(ours.at[name, column] / scale, "computed", fmt)
                                          if ours is not None else Labelled.missing("not built here"))
            row[f"{unit}, paper"] = paper.cell(PAPER_TABLE, paper_row, f"{column}_{'m' if column == 'params' else 'b'}")
        # the paper prints '-' where it has no number (no latency for YOLOv2/SSD, no mAP_S/M/L for the MobileNets)
        row["latency (ms), paper"] = paper.cell(PAPER_TABLE, paper_row, "latency_ms")
        for column, title in (("map", "mAP"), ("map_s", "mAP_S"), ("map_m", "mAP_M"), ("map_l", "mAP_L")):
            row[f"{title}, paper"] = paper.cell(PAPER_TABLE, paper_row, column)
        row["mAP (ours)"] = "not measured (no COCO training here)"
        rows.append(row)
    return render_table(rows)


def conventions_table(conventions: Iterable[HeadConvention] = CONVENTIONS) -> pd.DataFrame:
    """The head conventions, one row each, for display beside the counts."""
    return pd.DataFrame([{"convention": c.name, "classes (incl. background)": c.num_classes,
                          "anchors per location": "/".join(map(str, c.anchors_per_location)),
                          "description": c.description} for c in conventions])


def table3_checks(counts: pd.DataFrame) -> pd.DataFrame:
    """Notebook 06's verdicts: for each detector, whether some head convention reproduces Table 3's params and
    mult-adds at the paper's precision (and which), and what cannot be checked here (mAP: no COCO training;
    latency: no phone, and no cost model calibrated on detectors)."""
    rows = []
    for spec in BACKBONES:
        mine = counts[counts["backbone"] == spec.name]
        if mine.empty:
            continue
        both = mine[mine["params_match"] & mine["mult_adds_match"]]
        closest = mine.loc[(mine["params_diff_m"].abs()).idxmin()]
        rows.append({
            "claim": f"Table 3: {spec.paper_row} params and mult-adds",
            "paper": f"{closest['paper_params_label']}, {closest['paper_mult_adds_label']}",
            "ours": Labelled(", ".join(both["convention"]) if len(both) else
                             f"closest {closest['convention']}: {closest['params_diff_m']:+.2f}M params", "computed"),
            "verdict": f"holds under {len(both)} of {len(mine)} conventions" if len(both) else "does not hold",
        })
    rows.append({"claim": "Table 3: COCO mAP and Pixel-1 latency of every detector", "paper": "quoted above",
                 "ours": Labelled.missing("COCO training and a Pixel 1 are out of reach here"),
                 "verdict": "not testable here: no COCO training, no phone"})
    return render_table(rows)
