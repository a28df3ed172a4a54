"""The paper's own numbers, as data: every table of MnasNet (v3/CVPR) with a V/C/U status on every value.

The reproduction compares what it computes or measures against what the paper reports, and a reader must always be
able to tell how far a paper number can be trusted. ``/work/shared/paper/NUMBERS.md`` restores the tables with a
status per value (V verbatim, C corroborated, U uncertain); this module serves those transcriptions from
``data/paper/*.csv`` so notebooks never retype a number.

CSV layout (one file per table, wide, one row per table row):

* the first column is the row key (a model name, a network, a setting, or a setup parameter's name);
* a column ``X`` is a *value column* exactly when a ``X_status`` column exists; its cells are numbers (empty where
  the paper prints '-') and ``X_status`` holds V, C or U for each number (empty where there is no number). A
  per-value layout is needed because one row can mix statuses (MobileNetV1 in Table 1: 575M and 113 ms are V,
  4.2M and 70.6 are C, 89.5 is U);
* an optional ``X_note`` column annotates single values (the Figure 5 top-1 the README prints twice), an optional
  ``note`` column annotates a whole row; both end up in the value's provenance;
* any other column is a text label (Table 1's type, Table 2's "SE in space").

Two tables are not the paper's: ``fig5_mnasnet_a1`` and ``fig5_mobilenetv2`` transcribe the official READMEs whose
numbers Figure 5 plots (``README_SOURCES``), so their values are labelled ``official (V, <README>)``, never
``paper``. Where a row is a network another table also prints, its ``paper_row`` column names that row
(``table1_imagenet/MobileNetV2 (1.4x)``; Table 2's rows repeat Table 1's), and ``value`` gives **one value per
network** whichever table it is asked through: the paper's number unless it is uncertain (U), the README's otherwise,
with the other one named in the provenance (MobileNetV2 1.4x is 143 ms [paper C] everywhere, the README's 138 ms said
beside it; MobileNetV2 1.0x is 73.8 ms [official README V], the paper's uncertain 75 ms said beside it).
``data/latency/pixel1_points.csv`` fits the Pixel-1 model on the same choices (a test keeps the two in step).

Units are in the column names: ``params_m`` (millions), ``mult_adds_m`` / ``mult_adds_b`` (millions / billions),
``latency_ms`` (Pixel 1, batch 1), ``top1`` / ``top5`` / ``map*`` (percent). In ``fig5_mnasnet_a1`` the official
README gives parameters per depth multiplier; they are repeated at every input size because a model's parameter
count does not depend on its input size.
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Callable, Literal

import pandas as pd

from mnaslib.labels import PAPER_STATUS, Labelled, Provenance, paper_provenance

ENV_DIR = "MNAS_PAPER_DIR"
STATUS_SUFFIX = "_status"
NOTE_SUFFIX = "_note"
ROW_NOTE = "note"
PAPER_ROW = "paper_row"
# The tables transcribed from an official README rather than from the paper, and the README each one quotes.
README_SOURCES = {"fig5_mnasnet_a1": "MnasNet README", "fig5_mobilenetv2": "MobileNet README"}


class PaperLookupError(LookupError):
    """A table, row or column name that the transcribed paper does not have (the message lists the known ones)."""


@dataclass(frozen=True)
class PaperValue:
    """One number from the paper with its V/C/U status and a provenance ready to attach to derived results."""

    value: float
    status: str
    provenance: Provenance
    source: str = ""  # the official README it is quoted from; empty for a number the paper prints
    other: str = ""  # the other published value for the same network, where one exists: "MobileNet README: 138"

    @property
    def label(self) -> str:
        """The value as a table cell shows it, e.g. ``75.2 [paper (V)]``, ``89.5 [paper (U, uncertain)]`` or
        ``73.8 [official (V, MobileNet README; paper: 75 U)]``."""
        return self.cell().render()

    def cell(self, fmt: str = "{:g}") -> Labelled:
        """The value as a labelled table cell: status, README if any, and the other published value if any
        (without the table's name)."""
        return Labelled(self.value, paper_provenance(self.status, self.other, self.source), fmt)


def paper_dir() -> Path:
    """Where the CSVs live: ``$MNAS_PAPER_DIR`` if set (tests, relocated data), else the repository's data/paper."""
    override = os.environ.get(ENV_DIR)
    directory = Path(override) if override else Path(__file__).resolve().parents[1] / "data" / "paper"
    if not directory.is_dir():
        source = f"${ENV_DIR}" if override else "the repository"
        raise FileNotFoundError(f"paper tables directory {directory} (from {source}) does not exist; "
                                f"set {ENV_DIR} to the folder holding the table CSVs")
    return directory


def table_names() -> list[str]:
    """Names of the transcribed tables (the CSV file stems), sorted."""
    return sorted(path.stem for path in paper_dir().glob("*.csv"))


def value_columns(df: pd.DataFrame) -> list[str]:
    """The numeric columns of a loaded table: those that carry a ``_status`` column, in file order."""
    return [column for column in df.columns if f"{column}{STATUS_SUFFIX}" in df.columns]


def load_table(name: str) -> pd.DataFrame:
    """One table, indexed by its row key: value columns as floats (NaN where the paper has no value), their
    ``_status`` columns as 'V'/'C'/'U' strings ('' where there is no value), notes and text labels as strings.

    The file is validated when it is first read (and again whenever it changes), so a mistyped status or a number
    without a status fails loudly here rather than surfacing as an unlabeled number in a figure.
    """
    names = table_names()
    if name not in names:
        raise PaperLookupError(f"unknown paper table {name!r}; known tables: {', '.join(names)}")
    path = paper_dir() / f"{name}.csv"
    return _load(str(path), path.stat().st_mtime_ns).copy()


@lru_cache(maxsize=64)
def _load(path: str, mtime_ns: int) -> pd.DataFrame:
    """``load_table``'s parse and checks, once per file version (one lookup reads every linked table)."""
    df = pd.read_csv(path, dtype=str, keep_default_na=False)
    key = df.columns[0]
    if df[key].duplicated().any():
        raise ValueError(f"{path}: duplicate row keys {sorted(set(df[key][df[key].duplicated()]))}")
    df = df.set_index(key)
    for column in df.columns:
        if column.endswith(STATUS_SUFFIX) and column[: -len(STATUS_SUFFIX)] not in df.columns:
            raise ValueError(f"{path}: status column {column!r} has no value column {column[:-len(STATUS_SUFFIX)]!r}")
    for column in value_columns(df):
        status = df[f"{column}{STATUS_SUFFIX}"]
        numbers = pd.to_numeric(df[column].replace("", float("nan")), errors="coerce")
        bad_number = numbers.isna() & (df[column] != "")
        if bad_number.any():
            raise ValueError(f"{path}: column {column!r} has non-numeric values at rows {list(df.index[bad_number])}")
        unlabeled = numbers.notna() & ~status.isin(list(PAPER_STATUS))
        if unlabeled.any():
            raise ValueError(f"{path}: column {column!r} needs a status V, C or U at rows {list(df.index[unlabeled])}")
        orphan = numbers.isna() & (status != "")
        if orphan.any():
            raise ValueError(f"{path}: column {column!r} has a status but no value at rows {list(df.index[orphan])}")
        df[column] = numbers.astype(float)
    df.attrs["table"] = Path(path).stem
    return df


def _quoted(table: str, row: str, column: str) -> PaperValue:
    """One number exactly as the table transcribes it (cell and row notes in the provenance detail)."""
    df = load_table(table)
    if row not in df.index:
        raise PaperLookupError(f"table {table!r} has no row {row!r}; known rows: {', '.join(map(str, df.index))}")
    columns = value_columns(df)
    if column not in columns:
        raise PaperLookupError(f"table {table!r} has no value column {column!r}; known columns: {', '.join(columns)}")
    number = df.at[row, column]
    if math.isnan(number):
        raise PaperLookupError(f"the paper gives no value for {column!r} of {row!r} in table {table!r}")
    status = df.at[row, f"{column}{STATUS_SUFFIX}"]
    notes = [df.at[row, name] for name in (f"{column}{NOTE_SUFFIX}", ROW_NOTE) if name in df.columns]
    note = "; ".join(text for text in notes if text)
    source = README_SOURCES.get(table, "")
    return PaperValue(float(number), status, paper_provenance(status, f"{table}{'; ' + note if note else ''}", source),
                      source)


def _link_index() -> dict[tuple[str, str], list[tuple[str, str]]]:
    """Every ``paper_row`` link of the tables, both ways: (table, row) -> the rows it is linked to."""
    files = tuple((path.stem, path.stat().st_mtime_ns) for path in sorted(paper_dir().glob("*.csv")))
    return _links_of(str(paper_dir()), files)


@lru_cache(maxsize=8)
def _links_of(directory: str, files: tuple[tuple[str, int], ...]) -> dict[tuple[str, str], list[tuple[str, str]]]:
    """``_link_index`` once per version of the tables; a link to a row no table has is an error here."""
    index: dict[tuple[str, str], list[tuple[str, str]]] = {}
    for name, _ in files:
        df = load_table(name)
        for row, ref in (df[PAPER_ROW].items() if PAPER_ROW in df.columns else ()):
            if not ref:
                continue
            target = tuple(ref.split("/", 1))
            if len(target) != 2 or target[0] not in dict(files) or target[1] not in load_table(target[0]).index:
                raise ValueError(f"{directory}/{name}.csv: row {row!r} has {PAPER_ROW} {ref!r}, which names no row "
                                 "(write <table>/<row>)")
            index.setdefault((name, row), []).append(target)
            index.setdefault(target, []).append((name, row))
    return index


def same_network(table: str, row: str) -> list[tuple[str, str]]:
    """Every transcribed row of the network ``table``/``row`` is, this one first: ``paper_row`` links followed both
    ways (Table 2's MobileNetV2 -> Table 1's -> the MobileNet README's 1.0x at 224 px)."""
    links, group = _link_index(), [(table, row)]
    for member in group:  # grows while it is walked
        group += [link for link in links.get(member, []) if link not in group]
    return group


def _brief(number: PaperValue) -> str:
    """``MobileNet README: 138 V`` or ``paper: 75 U``: a value that was not chosen, for the chosen one's label."""
    return f"{number.source or 'paper'}: {number.value:g} {number.status}"


def value(table: str, row: str, column: str) -> PaperValue:
    """One published number for a network, with its status and provenance.

    A network printed in several tables (the paper's and an official README's) has one value, whichever table it is
    asked through: a paper value that is not uncertain (U) first (this table's own where it is one), the README's
    otherwise; the values that differ from it are named in ``other`` (and so in the cell label), and the provenance
    detail says where they are.
    """
    own = _quoted(table, row, column)
    found = [own]
    for member in same_network(table, row)[1:]:
        try:
            found.append(_quoted(*member, column))
        except LookupError:  # that table does not give this column (the README has no top-5, say)
            continue
    if len(found) == 1:
        return own
    ranked = sorted(found, key=lambda v: (v.status == "U", bool(v.source), v is not own))
    chosen = ranked[0]
    others = list(dict.fromkeys(_brief(v) for v in found if v.value != chosen.value))
    elsewhere = sorted({v.provenance.detail.split("; ")[1] for v in found if v is not chosen})
    detail = f"{chosen.provenance.detail}; also in {', '.join(elsewhere)}"
    return PaperValue(chosen.value, chosen.status, Provenance(chosen.provenance.kind, detail), chosen.source,
                      "; ".join(others))


def cell(table: str, row: str | None, column: str, fmt: str = "{:g}") -> Labelled:
    """A paper number as a labelled cell, ``-`` where the paper prints none."""
    if row is None:
        return Labelled.missing("no paper row")
    try:
        return value(table, row, column).cell(fmt)
    except LookupError:
        return Labelled.missing()


def _cell_label(number: float, status: str, source: str = "") -> str:
    """``75.2 [paper (V)]`` (``[official (V, MnasNet README)]`` for a README table); a missing value is the
    paper's '-'."""
    return Labelled(number, paper_provenance(status, source=source) if status else None).render()


def with_provenance_labels(df: pd.DataFrame) -> pd.DataFrame:
    """A display copy of a loaded table: each value becomes ``75.2 [paper V]`` (U shows as ``[paper U, uncertain]``),
    status and note columns are folded away, text labels are kept."""
    columns = value_columns(df)
    if not columns:
        raise ValueError("with_provenance_labels needs a table from load_table (value columns with _status columns)")
    hidden = {f"{c}{STATUS_SUFFIX}" for c in columns} | {f"{c}{NOTE_SUFFIX}" for c in columns} | {ROW_NOTE, PAPER_ROW}
    shown = df[[c for c in df.columns if c not in hidden]].copy()
    source = README_SOURCES.get(str(df.attrs.get("table", "")), "")
    for column in columns:
        statuses = df[f"{column}{STATUS_SUFFIX}"]
        shown[column] = [_cell_label(n, s, source) for n, s in zip(df[column], statuses)]
    return shown


Lookup = Callable[[str, str, str], float]


def paper_number(table: str, row: str, column: str) -> float:
    """The default lookup for claims: the bare number the paper reports."""
    return value(table, row, column).value


@dataclass(frozen=True)
class Cell:
    """A table cell a claim is computed from."""

    table: str
    row: str
    column: str


@dataclass(frozen=True)
class ClaimCheck:
    """One number a claim states, and how to recompute it from table cells.

    ``op`` is ``ratio`` (a / b, e.g. a speed-up from two latencies), ``difference`` (a - b, e.g. a top-1 gain) or
    ``value`` (a alone). With ``aggregate='max'`` the claim states the largest result over several pairs (Figure 5's
    "up to 4.1% more accurate"). The paper states each number to ``decimals`` places, so a recomputation holds when
    it rounds to the claimed value.
    """

    quantity: str
    op: Literal["ratio", "difference", "value"]
    claimed: float
    decimals: int
    pairs: tuple[tuple[Cell, Cell | None], ...]
    aggregate: Literal["one", "max"] = "one"

    def __post_init__(self) -> None:
        if self.aggregate == "one" and len(self.pairs) != 1:
            raise ValueError(f"{self.quantity}: aggregate 'one' needs exactly one pair, got {len(self.pairs)}")
        for a, b in self.pairs:
            if (b is None) != (self.op == "value"):
                raise ValueError(f"{self.quantity}: op {self.op!r} takes {'one cell' if self.op == 'value' else 'two'}")

    def recompute(self, lookup: Lookup = paper_number) -> float:
        """The stated quantity from ``lookup(table, row, column)``: the paper's own numbers by default, or a
        notebook's computed/measured ones to check whether the claim survives the reproduction."""
        results = []
        for a, b in self.pairs:
            first = lookup(a.table, a.row, a.column)
            if b is None:
                results.append(first)
                continue
            second = lookup(b.table, b.row, b.column)
            results.append(first / second if self.op == "ratio" else first - second)
        return max(results)

    def holds(self, lookup: Lookup = paper_number) -> bool:
        """Whether the recomputed quantity rounds to the claimed one at the paper's precision."""
        return round(self.recompute(lookup), self.decimals) == round(self.claimed, self.decimals)


@dataclass(frozen=True)
class Claim:
    """A sentence of the paper that states numbers, with the checks that recompute them from the tables."""

    key: str
    text: str
    status: str
    checks: tuple[ClaimCheck, ...]


def _t1(row: str, column: str) -> Cell:
    return Cell("table1_imagenet", row, column)


def claims() -> tuple[Claim, ...]:
    """The paper's numeric text claims that the tables can recompute.

    The A3-vs-ResNet-50 claim (4.8x fewer params, 10x fewer mult-adds) is left out: ResNet-50's own numbers are not
    among the transcribed tables, so it could not be recomputed from them.
    """
    a1 = "MnasNet-A1"
    fig5_points = [(1.4, 224), (1.0, 224), (0.75, 224), (0.5, 224), (0.35, 224),
                   (1.0, 192), (1.0, 160), (1.0, 128), (1.0, 96)]
    return (
        Claim("a1_vs_mobilenetv2_1.4",
              "MnasNet-A1 is 1.8x faster than MobileNetV2 (1.4x) with 0.5% higher top-1 accuracy.", "V",
              (ClaimCheck("speedup", "ratio", 1.8, 1,
                          ((_t1("MobileNetV2 (1.4x)", "latency_ms"), _t1(a1, "latency_ms")),)),
               ClaimCheck("top1_gain", "difference", 0.5, 1,
                          ((_t1(a1, "top1"), _t1("MobileNetV2 (1.4x)", "top1")),)))),
        Claim("a1_vs_nasnet",
              "MnasNet-A1 is 2.3x faster than NASNet-A with 1.2% higher top-1 accuracy.", "V",
              (ClaimCheck("speedup", "ratio", 2.3, 1, ((_t1("NASNet-A", "latency_ms"), _t1(a1, "latency_ms")),)),
               ClaimCheck("top1_gain", "difference", 1.2, 1, ((_t1(a1, "top1"), _t1("NASNet-A", "top1")),)))),
        Claim("mobilenetv1_vs_nasnet_latency",
              "MobileNetV1 and NASNet-A have similar mult-adds (575M vs 564M) but very different latency "
              "(113 ms vs 183 ms): mult-adds are an inaccurate proxy for latency.", "V",
              (ClaimCheck("mobilenetv1_mult_adds_m", "value", 575, 0, ((_t1("MobileNetV1", "mult_adds_m"), None),)),
               ClaimCheck("nasnet_mult_adds_m", "value", 564, 0, ((_t1("NASNet-A", "mult_adds_m"), None),)),
               ClaimCheck("mobilenetv1_latency_ms", "value", 113, 0, ((_t1("MobileNetV1", "latency_ms"), None),)),
               ClaimCheck("nasnet_latency_ms", "value", 183, 0, ((_t1("NASNet-A", "latency_ms"), None),)))),
        Claim("fig5_up_to_4.1",
              "Scaled by depth multiplier or input size, MnasNet is up to 4.1% more accurate than MobileNetV2.", "V",
              (ClaimCheck("max_top1_gain", "difference", 4.1, 1,
                          tuple((Cell("fig5_mnasnet_a1", f"mnasnet_a1_{m}_{s}", "top1"),
                                 Cell("fig5_mobilenetv2", f"mobilenetv2_{m}_{s}", "top1")) for m, s in fig5_points),
                          aggregate="max"),)),
    )
