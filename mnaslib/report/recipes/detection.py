"""Notebook 06: Table 3 (COCO detection) as we can reproduce it: SSDLite detectors counted under each head
convention beside the paper's rows, mAP and latency quoted."""
from __future__ import annotations

from typing import Iterable

import pandas as pd

from mnaslib import paper
from mnaslib.spaces.detection import BACKBONES, CONVENTIONS, PAPER_TABLE, HeadConvention, best_conventions
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


def convention_reading(counts: pd.DataFrame) -> list[str]:
    """Notebook 06's reading of ``counts`` (from :func:`convention_counts`), one line each: the closest convention
    per backbone, the conventions that reproduce every row and what each reproduces, and the params gap between
    A1 + SSDLite and MobileNetV2 + SSDLite under each convention beside the gap between Table 3's two rows."""
    best = best_conventions(counts)
    lines = [f"{row['backbone']}: closest convention {row['convention']}: {row['params'] / 1e6:.3f}M params "
             f"vs {row['paper_params_label']} ({row['params_diff_m']:+.3f}M), {row['mult_adds'] / 1e9:.3f}B mult-adds "
             f"vs {row['paper_mult_adds_label']} ({row['mult_adds_diff_b']:+.3f}B) [computed vs paper]"
             for _, row in best.iterrows()]
    both = counts["params_match"] & counts["mult_adds_match"]
    everywhere = [name for name, group in both.groupby(counts["convention"]) if group.all()]
    lines.append(f"conventions that reproduce all three rows: {', '.join(everywhere) or 'none'}")
    lines += [f"  {name} reproduces: {', '.join(group['backbone'])}"
              for name, group in counts[both].groupby("convention", sort=False)]
    params = counts.pivot(index="convention", columns="backbone", values="params")
    lines += [f"A1 + SSDLite minus MobileNetV2 + SSDLite, {name}: "
              f"{(row['mnasnet-a1'] - row['mobilenetv2']) / 1e6:+.2f}M params [computed]"
              for name, row in params.iterrows()]
    published = best.set_index("backbone")
    a1, v2 = published.loc["mnasnet-a1"], published.loc["mobilenetv2"]
    lines.append(f"A1 + SSDLite minus MobileNetV2 + SSDLite in Table 3: "
                 f"{a1['paper_params_m'] - v2['paper_params_m']:+.1f}M params "
                 f"[{a1['paper_params_label']} minus {v2['paper_params_label']}]")
    return lines


def standard_counts(counts: pd.DataFrame) -> pd.DataFrame:
    """The rows of ``counts`` under the two standard-anchor conventions (3 anchors on the first map, 6 elsewhere),
    the ones Table 3 and its figure show."""
    return counts[counts["convention"].isin([c.name for c in CONVENTIONS[:2]])]


def table3_parts(table: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """:func:`table3` split in two for reading: what we count beside the paper (``detection``) and what only the
    paper measured (``detection_quoted``), each keeping the detector column."""
    counted = [c for c in table.columns if c.startswith(("params", "mult-adds"))]
    quoted = [c for c in table.columns if c not in counted and c != "detector"]
    return {part: table[["detector", *columns]] for part, columns in (("detection", counted),
                                                                        ("detection_quoted", quoted))}


def params_by_convention(counts: pd.DataFrame, backbone: str) -> pd.Series:
    """One backbone's trainable params (computed) under each convention in ``counts``, indexed by convention."""
    return counts[counts["backbone"] == backbone].set_index("convention")["params"]


def reproduced_only_under(counts: pd.DataFrame, convention: str, other: str) -> set[str]:
    """The backbones whose Table 3 params and mult-adds ``convention`` reproduces and ``other`` does not."""
    matched = counts[counts["params_match"] & counts["mult_adds_match"]]
    by_convention = {name: set(group["backbone"]) for name, group in matched.groupby("convention")}
    return by_convention.get(convention, set()) - by_convention.get(other, set())
