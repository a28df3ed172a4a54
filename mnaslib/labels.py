"""Provenance labels and labelled values: where every number mnaslib reports came from.

The reproduction's first rule is that a reader can always tell where a number came from. A ``Provenance`` is a
kind plus a free-text detail; a ``Labelled`` value carries one, and ``Labelled.render`` is the one way a table
cell, a report line or a figure annotation writes it: ``75.2 [paper (V)]``, ``79.4 [predicted (Pixel-1 model,
grouped-CV MAPE 6.3% ...)]``, ``- [not run at the ci profile]``.

Kinds:

* ``paper``: quoted from the paper, with its V/C/U status (V verbatim, C corroborated, U uncertain);
* ``computed``: exact, from the architecture or from other labelled numbers;
* ``measured``: timed on a real runtime (device, runtime, threads, clock in the detail);
* ``predicted``: from a cost model, with its measured error;
* ``proxy``: an accuracy on a small proxy task, with the task, budget and its measured rank fidelity;
* ``surrogate``: from a model fitted on a benchmark's trained networks, with its held-out error;
* ``benchmark``: looked up in a published table of trained networks (NAS-Bench-Macro ...), with its source;
* ``synthetic``: made up for a demonstration (a seeded table), never evidence.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Iterable, Literal, Mapping

import pandas as pd

Kind = Literal["paper", "computed", "measured", "predicted", "proxy", "surrogate", "benchmark", "synthetic"]
KINDS: tuple[str, ...] = ("paper", "computed", "measured", "predicted", "proxy", "surrogate", "benchmark",
                          "synthetic")
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
        if self.kind == "paper" and (status not in PAPER_STATUS or rest not in ("", " ", ";", ",")):
            raise ValueError(f"a paper number needs its status V, C or U first in the detail, got {self.detail!r}")

    @property
    def label(self) -> str:
        """Short label for a table cell, e.g. ``paper (V)`` or ``measured (host TFLite, 1 thread)``."""
        return f"{self.kind} ({self.detail})" if self.detail else self.kind

    def __str__(self) -> str:
        return self.label


def paper_provenance(status: str, note: str = "") -> Provenance:
    """A number quoted from the paper with its status letter V, C or U (U is shown as 'uncertain')."""
    status = status.strip().upper()
    detail = status if status != "U" else "U, uncertain"
    return Provenance("paper", f"{detail}{'; ' + note if note else ''}")


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
