"""Provenance labels carried by every number mnaslib reports.

The reproduction's first rule is that a reader can always tell where a number came from: quoted from the paper
(with the paper's V/C/U status), computed exactly from an architecture, measured on a real runtime, predicted by a
cost model, or obtained on our small proxy task. Tables and figures attach one of these to each value.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Kind = Literal["paper", "computed", "measured", "predicted", "proxy"]
KINDS: tuple[str, ...] = ("paper", "computed", "measured", "predicted", "proxy")
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


def paper(status: str, note: str = "") -> Provenance:
    """A number quoted from the paper with its status letter V, C or U (U is shown as 'uncertain')."""
    status = status.strip().upper()
    detail = status if status != "U" else "U, uncertain"
    return Provenance("paper", f"{detail}{'; ' + note if note else ''}")
