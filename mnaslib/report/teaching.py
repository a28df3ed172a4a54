"""Course material that notebooks compute rather than state: the "reproduces here / does not" summary built from a
notebook's own verdicts, and exercise cells that check a student's prediction against a recomputation.

A summary written by hand goes stale the first time a run changes; one built from the verdict table the notebook
just computed cannot. An exercise asks the student to predict what changing one parameter does, then recomputes it:
``check_prediction`` compares the two and says why, and with the placeholder answer (``None``) it only says what to
do, so a headless run (``make reproduce``, the tests) passes without a student.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Iterable, Mapping, Sequence

import pandas as pd

from mnaslib.errors import UserError

# How a verdict string (claims.py, the recipes' verdict columns) reads for a student; the first prefix that matches.
OUTCOMES = (("holds", "reproduces here"), ("direction holds", "partly (direction only)"),
            ("does not hold", "does not reproduce here"), ("differs", "does not reproduce here"),
            ("within noise", "within noise: not decided"), ("not enough seeds", "within noise: not decided"),
            ("not testable", "not testable here"), ("not checked", "not testable here"),
            ("not run", "not testable here"), ("-", "not testable here"))  # "-": claims._verdict had nothing
OUTCOME_ORDER = ("reproduces here", "partly (direction only)", "does not reproduce here",
                 "within noise: not decided", "not testable here")


def outcome(verdict: str) -> str:
    """What a verdict means for the summary: ``holds (3/3 seeds)`` -> ``reproduces here`` and so on. An unknown
    verdict is an error, so a new verdict wording cannot silently fall into the wrong row."""
    text = str(verdict).strip().lower()
    for prefix, meaning in OUTCOMES:
        if text.startswith(prefix):
            return meaning
    raise ValueError(f"verdict {verdict!r} has no summary outcome; known verdicts start with "
                     f"{', '.join(repr(p) for p, _ in OUTCOMES)}")


def reproduction_summary(checks: pd.DataFrame | Sequence[pd.DataFrame] | Iterable[Mapping[str, Any]],
                         claim: str = "claim", verdict: str = "verdict", evidence: str | None = None) -> pd.DataFrame:
    """The closing "reproduces here / does not" table of a notebook, from its own verdict table(s): one row per
    checked claim, grouped by outcome (reproduces, partly, does not, within noise, not testable here).

    ``checks`` is a verdict table, several (a notebook with more than one), or rows, each with a ``claim`` and a
    ``verdict`` column; ``evidence`` names a column to keep beside them (what the verdict rests on).
    """
    if isinstance(checks, pd.DataFrame):
        frame = checks
    else:
        items = list(checks)
        tables = all(isinstance(item, pd.DataFrame) for item in items)
        frame = pd.concat(items, ignore_index=True) if items and tables else pd.DataFrame(items)
    missing = [c for c in (claim, verdict, evidence) if c is not None and c not in frame.columns]
    if missing:
        raise ValueError(f"the verdict table has no column(s) {missing}; it has {list(frame.columns)}")
    if frame.empty:
        raise ValueError("the verdict table is empty: a summary needs at least one checked claim")
    summary = pd.DataFrame({"outcome": frame[verdict].map(outcome), "claim": frame[claim],
                            "verdict": frame[verdict]})
    if evidence is not None:
        summary["evidence"] = frame[evidence].to_numpy()
    summary["outcome"] = pd.Categorical(summary["outcome"], OUTCOME_ORDER, ordered=True)
    return summary.sort_values("outcome", kind="stable").reset_index(drop=True).astype({"outcome": str})


def summary_counts(summary: pd.DataFrame) -> str:
    """One line for the top of the summary: ``2 of 4 reproduce here; does not reproduce here: 1; not testable
    here: 1``."""
    counts = summary["outcome"].value_counts()
    parts = [f"{counts.get('reproduces here', 0)} of {len(summary)} reproduce here"]
    parts += [f"{o}: {counts[o]}" for o in OUTCOME_ORDER[1:] if counts.get(o, 0)]
    return "; ".join(parts)


DIRECTIONS = ("rises", "falls", "stays the same")


def direction(before: float, after: float, rel_tol: float = 1e-6) -> str:
    """How a recomputed number moved when the exercise changed a parameter: one of ``DIRECTIONS``."""
    if math.isclose(before, after, rel_tol=rel_tol, abs_tol=1e-12):
        return "stays the same"
    return "rises" if after > before else "falls"


@dataclass(frozen=True, repr=False)
class Prediction:
    """A student's prediction against the recomputed answer. It shows as its feedback only (the last line of a
    check cell), so a cell left unanswered never displays the truth."""

    answer: Any
    truth: Any
    verdict: str  # "right", "wrong" or "no answer yet"
    feedback: str

    def __repr__(self) -> str:
        return self.feedback

    __str__ = __repr__


def check_prediction(answer: Any, truth: Any, *, choices: Sequence[str] | None = None, rel_tol: float = 0.1,
                     why: str = "") -> Prediction:
    """Compare a student's ``answer`` with ``truth`` (recomputed by the cell); the result shows as its feedback
    (make it the cell's last expression).

    With ``choices`` the answer is one of them (case and surrounding spaces ignored; anything else is a
    ``UserError`` listing them); otherwise it is a number, right within ``rel_tol`` relative error. ``None`` (the
    placeholder) is "no answer yet": the cell says how to answer and does not give the truth away. ``why`` is the
    explanation shown once an answer is given.
    """
    if choices is not None and str(truth) not in choices:
        raise ValueError(f"the recomputed answer {truth!r} is not among the choices {list(choices)}")
    if answer is None or answer is Ellipsis:
        hint = f"one of {', '.join(repr(c) for c in choices)}" if choices else "a number"
        return Prediction(answer, truth, "no answer yet",
                          f"No prediction yet: set `answer` to {hint} in the cell above and run both cells again.")
    if choices is not None:
        given = str(answer).strip().lower()
        known = {c.lower(): c for c in choices}
        if given not in known:
            raise UserError(f"answer {answer!r} is not one of {', '.join(repr(c) for c in choices)}")
        right = known[given] == truth
        shown_truth = repr(truth)
    else:
        try:
            number = float(answer)
        except (TypeError, ValueError):
            raise UserError(f"answer {answer!r} must be a number") from None
        right = math.isclose(number, float(truth), rel_tol=rel_tol, abs_tol=1e-12)
        shown_truth = f"{float(truth):.4g} (right within {rel_tol:.0%})"
    verdict = "right" if right else "wrong"
    feedback = f"{'Right' if right else 'Not quite'}: you said {answer!r}, the recomputation gives {shown_truth}."
    if why:
        feedback += f" {why}"
    return Prediction(answer, truth, verdict, feedback)
