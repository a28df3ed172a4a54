"""Provenance labels and labelled values: where every number mnaslib reports came from.

The reproduction's first rule is that a reader can always tell where a number came from. A ``Provenance`` is a
kind plus a free-text detail; a ``Labelled`` value carries one, and ``Labelled.render`` is the one way a table
cell, a report line or a figure annotation writes it: ``75.2 [paper (V)]``, ``79.4 [predicted (Pixel-1 model,
grouped-CV MAPE 5.8% ...)]``, ``- [not run at the ci profile]``. A table is *shown* (``footnoted``: notebook display
and the report's Markdown alike) with long labels as footnote keys, ``10.98 [m1]`` and ``[m1] measured (host ...)``
under it, so the number reads first and its full label is one line away.

Kinds:

* ``paper``: quoted from the paper, with its V/C/U status (V verbatim, C corroborated, U uncertain);
* ``official``: quoted from the authors' official README (the MnasNet README of tensorflow/tpu, TF-slim's MobileNet
  README), with the same V/C/U status and the README named: published, but not printed in the paper;
* ``computed``: exact, from the architecture or from other labelled numbers;
* ``measured``: timed on a real runtime (device, runtime, threads, clock in the detail);
* ``predicted``: from a cost model, with its measured error;
* ``proxy``: an accuracy on a small proxy task, with the task, budget and its measured rank fidelity;
* ``surrogate``: from a model fitted on a benchmark's trained networks, with its held-out error;
* ``benchmark``: looked up in a published table of trained networks (NAS-Bench-Macro ...), with its source;
* ``synthetic``: made up for a demonstration (a seeded table), never evidence.
"""
from __future__ import annotations

import html
import math
import re
from collections import Counter
from dataclasses import dataclass
from typing import Any, Iterable, Literal, Mapping

import pandas as pd

Kind = Literal["paper", "official", "computed", "measured", "predicted", "proxy", "surrogate", "benchmark", "synthetic"]
KINDS: tuple[str, ...] = ("paper", "official", "computed", "measured", "predicted", "proxy", "surrogate",
                          "benchmark", "synthetic")
QUOTED_KINDS = ("paper", "official")  # kinds whose detail starts with a V/C/U status
PAPER_STATUS = {"V": "verbatim", "C": "corroborated", "U": "uncertain"}


@dataclass(frozen=True)
class Provenance:
    """Where a number came from: a kind and a free-text detail (status, device, model, task...)."""

    kind: Kind
    detail: str = ""

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown provenance kind {self.kind!r}; expected one of {', '.join(KINDS)}")
        status, rest = self.detail[:1], self.detail[1:2]
        if self.kind in QUOTED_KINDS and (status not in PAPER_STATUS or rest not in ("", " ", ";", ",")):
            raise ValueError(f"a {self.kind} number needs its status V, C or U first in the detail, "
                             f"got {self.detail!r}")

    @property
    def label(self) -> str:
        """Short label for a table cell, e.g. ``paper (V)`` or ``measured (host TFLite, 1 thread)``."""
        return f"{self.kind} ({self.detail})" if self.detail else self.kind

    def __str__(self) -> str:
        return self.label

    @classmethod
    def parse(cls, label: str) -> "Provenance":
        """The provenance a label was written from (``label``'s inverse): ``"predicted (Pixel-1 model, ...)"`` ->
        ``Provenance("predicted", "Pixel-1 model, ...")``; for stores that kept labels as text. A label whose kind
        is unknown is a ValueError."""
        kind, _, rest = label.strip().partition(" ")
        if rest and not (rest.startswith("(") and rest.endswith(")")):
            raise ValueError(f"not a provenance label: {label!r} (expected 'kind (detail)')")
        return cls(kind, rest[1:-1])  # type: ignore[arg-type]


def paper_provenance(status: str, note: str = "", source: str = "") -> Provenance:
    """A number quoted from the paper with its status letter V, C or U (U is shown as 'uncertain'); with a
    ``source`` (an official README's name) it is an ``official`` number instead, because the paper does not print
    it: ``official (V, MobileNet README)``."""
    status = status.strip().upper()
    detail = status if status != "U" else "U, uncertain"
    if source:
        detail = f"{detail}, {source}"
    return Provenance("official" if source else "paper", f"{detail}{'; ' + note if note else ''}")


@dataclass(frozen=True)
class Labelled:
    """A value with its provenance, or a missing value with the reason it is missing.

    ``fmt`` formats the value (``{:.1f}``, ``{:+.2f}x`` ...); ``provenance`` may be a ``Provenance`` or an already
    written label (stored searches keep labels as text). A missing value (``None`` or NaN) renders as ``-`` with
    ``reason`` (or the provenance) in brackets, so a table never shows a blank it cannot explain.
    """

    value: Any
    provenance: Provenance | str | None = None
    fmt: str = "{:g}"
    reason: str = ""

    @classmethod
    def missing(cls, reason: str = "") -> "Labelled":
        """No value, and why: ``- [not run at the ci profile]``; without a reason a bare ``-`` (the paper's own
        blank)."""
        return cls(None, None, reason=reason)

    @property
    def is_missing(self) -> bool:
        return self.value is None or (isinstance(self.value, float) and math.isnan(self.value))

    @property
    def label(self) -> str:
        """The bracketed part: the provenance label, or the reason a value is missing."""
        if self.is_missing:
            return self.reason or str(self.provenance or "no value")
        return str(self.provenance) if self.provenance is not None else "unlabelled"

    def render(self) -> str:
        """The one way a labelled value is written: ``<value> [<provenance>]``."""
        if self.is_missing:
            return f"- [{self.label}]" if self.reason or self.provenance is not None else "-"
        text = self.fmt.format(self.value) if not isinstance(self.value, str) else self.value
        return f"{text} [{self.label}]"

    def __str__(self) -> str:
        return self.render()


def render_value(value: Any) -> Any:
    """A ``Labelled`` cell rendered to text; anything else unchanged (text labels, plain counts, booleans)."""
    return value.render() if isinstance(value, Labelled) else value


def render_table(rows: Iterable[Mapping[str, Any]] | pd.DataFrame) -> pd.DataFrame:
    """A table of labelled cells (rows of mappings, or a DataFrame) with every ``Labelled`` rendered to text.

    Recipes build their tables from ``Labelled`` values and render them here, once, so every cell of every table
    is written the same way.
    """
    frame = rows if isinstance(rows, pd.DataFrame) else pd.DataFrame(list(rows))
    return frame.map(render_value) if not frame.empty else frame


# ---------------------------------------------------------------------------------------------------------------
# Footnoted tables: what a reader sees (notebook display and the report alike)
# ---------------------------------------------------------------------------------------------------------------
# A label this short reads as well as a key would ("paper (V)", "computed"); longer ones become footnote keys.
INLINE_LABEL = 12
SIGNIFICANT = 4
_KEY_PREFIX = {"paper": "p", "official": "o", "computed": "c", "measured": "m", "predicted": "e", "proxy": "x",
               "surrogate": "s", "benchmark": "b", "synthetic": "y"}
_NUMBER = re.compile(r"[+-]?\d+\.\d+")


def split_label(text: str) -> tuple[str, str | None]:
    """``"10.98 [measured (host ...)]" -> ("10.98", "measured (host ...)")``: the trailing bracketed label (brackets
    inside it balanced, as in ``median [IQR] of 3 seeds``), or ``(text, None)`` when there is none."""
    text = text.rstrip()
    if not text.endswith("]"):
        return text, None
    depth = 0
    for index in range(len(text) - 1, -1, -1):
        depth += {"]": 1, "[": -1}.get(text[index], 0)
        if depth == 0:
            if index == 0 or text[index - 1] != " ":
                return text, None
            return text[:index - 1], text[index + 1:-1]
    return text, None


def round_to_meaning(value: Any, digits: int = SIGNIFICANT) -> Any:
    """A float (or a decimal number written in text) with at most ``digits`` significant digits: 0.0963124 ->
    0.09631, 10.98 stays; integers, counts and words unchanged. Presentation only: the stored value keeps every
    digit."""
    def short(number: float) -> str:
        return f"{number:,.0f}" if abs(number) >= 10 ** digits else f"{number:.{digits}g}"

    if isinstance(value, float) and math.isfinite(value):
        return short(value)
    if isinstance(value, str):
        return _NUMBER.sub(lambda m: short(float(m.group())) if len(m.group().lstrip("+-").replace(".", "")
                                                                     .lstrip("0")) > digits else m.group(), value)
    return value


class Footnotes:
    """Short keys for long provenance labels, numbered per kind (``m1``, ``m2``, ``p1`` ...), in first-seen order."""

    def __init__(self) -> None:
        self.notes: dict[str, str] = {}

    def key(self, label: str) -> str:
        """The label itself when it is short, else its key (the same key every time it recurs)."""
        if len(label) <= INLINE_LABEL:
            return label
        for key, known in self.notes.items():
            if known == label:
                return key
        kind = label.split(" ", 1)[0].split("(", 1)[0].strip(";,")
        prefix = _KEY_PREFIX.get(kind, "n")
        key = f"{prefix}{sum(k.rstrip('0123456789') == prefix for k in self.notes) + 1}"
        self.notes[key] = label
        return key


def footnoted(frame: pd.DataFrame) -> pd.DataFrame:
    """A table as a reader sees it: each cell's provenance label replaced by a short footnote key (``10.98 [m1]``),
    the label most cells of a column share moved to the column's header once (a cell keeps its own where it
    differs), numbers rounded to
    ``SIGNIFICANT`` digits, and the keys' full labels in ``attrs["footnotes"]`` (``footnote_lines`` writes them).
    The table's own cells (CSV, ``Labelled.provenance``) keep the full labels; this is presentation only."""
    notes = Footnotes()
    columns, data = [], {}
    for position, column in enumerate(frame.columns):
        cells = [render_value(v) for v in frame.iloc[:, position]]
        parts = [split_label(c) if isinstance(c, str) else (c, None) for c in cells]
        labels = Counter(label for _, label in parts)
        header_text, header_label = split_label(str(column))
        common, count = labels.most_common(1)[0] if labels else (None, 0)
        if header_label is None and None not in labels and len(parts) > 1 and count > len(parts) / 2:
            # the label most cells share goes to the header once; a cell keeps its own only where it differs
            header_label, parts = common, [(text, None if label == common else label) for text, label in parts]
        header = header_text if header_label is None else f"{header_text} [{notes.key(header_label)}]"
        while header in data:
            header += " "
        columns.append(header)
        data[header] = [round_to_meaning(text) if label is None else f"{round_to_meaning(text)} [{notes.key(label)}]"
                        for text, label in parts]
    out = pd.DataFrame(data, index=frame.index, columns=columns)
    out.attrs = {**frame.attrs, "footnotes": {**frame.attrs.get("footnotes", {}), **notes.notes}}
    return out


def footnote_lines(frame: pd.DataFrame) -> list[str]:
    """``[m1] measured (host LiteRT 2.3, ...)``: one line per footnote key of a ``footnoted`` table."""
    return [f"[{key}] {label}" for key, label in frame.attrs.get("footnotes", {}).items()]


def table_html(frame: pd.DataFrame) -> str:
    """A table for a notebook: ``footnoted``, as HTML, its footnotes listed under it."""
    shown = footnoted(frame)
    notes = "".join(f"<li>{html.escape(line)}</li>" for line in footnote_lines(shown))
    return shown.to_html(escape=True) + (f'<ul style="list-style:none;padding-left:0;font-size:smaller">{notes}</ul>'
                                         if notes else "")


def table_text(frame: pd.DataFrame) -> str:
    """A table as plain text (a terminal, an executed notebook's text output): ``footnoted`` and its footnotes."""
    shown = footnoted(frame)
    return "\n".join([shown.to_string()] + footnote_lines(shown))


def install_notebook_display(display_formatter: Any = None) -> None:
    """Show every pandas table through ``footnoted`` (HTML and text alike) in a running IPython kernel (or in the
    given ``DisplayFormatter``), so each notebook's ``display(table)`` reads as the report does. Outside IPython it
    does nothing."""
    if display_formatter is None:
        try:
            from IPython import get_ipython
        except ImportError:
            return
        shell = get_ipython()
        if shell is None:
            return
        display_formatter = shell.display_formatter
    formatters = display_formatter.formatters
    formatters["text/html"].for_type(pd.DataFrame, table_html)
    formatters["text/plain"].for_type(pd.DataFrame, lambda frame, printer, cycle: printer.text(table_text(frame)))


MAX_COLUMNS = 8
MAX_CELL = 90


def layout_problems(frame: pd.DataFrame, max_columns: int = MAX_COLUMNS, max_cell: int = MAX_CELL) -> list[str]:
    """What keeps a table from reading on one screen once ``footnoted``: more than ``max_columns`` columns, or a
    header or cell longer than ``max_cell`` characters (a label that should be a key, a sentence that should be
    prose). Empty when it fits."""
    shown = footnoted(frame)
    problems = [f"{len(shown.columns)} columns (at most {max_columns})"] if len(shown.columns) > max_columns else []
    for column in shown.columns:
        texts = [str(column)] + [str(v) for v in shown[column]]
        widest = max(texts, key=len)
        if len(widest) > max_cell:
            problems.append(f"column {str(column).strip()!r}: {len(widest)} characters ({widest[:40]}...)")
    return problems
