"""Verdicts that respect noise: a claim holds only when every seed agrees and every gap clears a stated floor.

The floors are the seed-to-seed spread, a bootstrap interval of the gap, or the error the evidence's own label states
(a latency model's MAPE, a surrogate's RMSE); evidence whose measured rank fidelity is at chance or no better than the
parameter count gives "not testable here" instead of a verdict. ``mnaslib.report.claims`` judges the paper's claims with
it.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np
from scipy import stats

from mnaslib.labels import Labelled


# ---------------------------------------------------------------------------------------------------------------
# The verdict rule: every seed agrees and the gap exceeds a stated noise floor
# ---------------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class NoiseFloor:
    """A gap at or below which a difference is noise, and where that number comes from (said in every verdict)."""

    value: float
    source: str

    def describe(self, unit: str = "") -> str:
        return f"{self.value:.3g}{unit}, {self.source}"


def seed_spread(*arms: Sequence[float], what: str = "seed SD") -> NoiseFloor:
    """How far one arm's number moves between seeds alone: the largest standard deviation over seeds (ddof 1) of
    the arms. A gap no larger than that could be a reseed."""
    spreads = [float(np.std(values, ddof=1)) for values in
               (np.asarray([v for v in a if v is not None and np.isfinite(v)], float) for a in arms) if values.size > 1]
    return NoiseFloor(max(spreads, default=0.0), what)


def bootstrap_floor(first: Sequence[float], second: Sequence[float], statistic: Callable[..., np.ndarray],
                    confidence: float = 0.95, resamples: int = 999, seed: int = 0) -> NoiseFloor:
    """Half the width of the bootstrap interval of ``statistic(second) - statistic(first)`` (each sample resampled
    on its own, ``scipy.stats.bootstrap``): how much the gap between two searches' samples moves by chance.
    ``statistic(x, axis)`` must reduce along ``axis``."""
    first, second = np.asarray(first, float), np.asarray(second, float)
    if first.size < 2 or second.size < 2:
        return NoiseFloor(float("inf"), "bootstrap interval: fewer than 2 samples")
    interval = stats.bootstrap((second, first), lambda b, a, axis: statistic(b, axis) - statistic(a, axis),
                               vectorized=True, confidence_level=confidence, n_resamples=resamples,
                               method="percentile", random_state=seed).confidence_interval
    return NoiseFloor(float(interval.high - interval.low) / 2, f"{100 * confidence:g}% bootstrap")


_ERRORS = (re.compile(r"MAPE (\d+(?:\.\d+)?)%"), re.compile(r"RMSE (\d+(?:\.\d+)?) points"))


def label_error_floor(label: str, reference: float | None = None) -> NoiseFloor | None:
    """The measured error a number's own label states, as a floor: a latency model's MAPE times ``reference`` (ms),
    or a surrogate's RMSE in top-1 points; ``None`` when the label states neither. Two values closer than their
    evidence's error are not told apart by it."""
    mape = _ERRORS[0].search(label)
    if mape and reference is not None:
        share = float(mape.group(1))
        return NoiseFloor(share / 100 * reference, f"MAPE {share:g}% of {reference:.3g} ms")
    rmse = _ERRORS[1].search(label)
    if rmse:
        return NoiseFloor(float(rmse.group(1)), f"RMSE {float(rmse.group(1)):g}")
    return None


@dataclass(frozen=True)
class Fidelity:
    """How well the evidence behind a claim ranks networks (Kendall tau on ``networks`` trained ones), beside the
    parameter count's tau on the same networks: a claim resting on evidence that ranks at chance, or no better than
    counting parameters, is not testable with it."""

    kendall: float
    networks: int
    parameter_kendall: float | None = None
    what: str = "the evidence"

    @property
    def chance_band(self) -> float:
        """Two standard deviations of Kendall tau between unrelated rankings of ``networks`` items."""
        n = self.networks
        return 2 * math.sqrt(2 * (2 * n + 5) / (9 * n * (n - 1))) if n > 1 else float("inf")

    @property
    def untestable_reason(self) -> str | None:
        """Why no verdict can rest on this evidence, or ``None`` when it ranks beyond chance and the parameter
        count."""
        tau = f"{self.what} ranks at Kendall {self.kendall:.2f} on {self.networks} trained networks"
        if not np.isfinite(self.kendall) or self.kendall <= self.chance_band:
            return f"{tau}, not above chance (chance band +-{self.chance_band:.2f})"
        if self.parameter_kendall is not None and self.kendall <= self.parameter_kendall:
            return f"{tau}, no better than the parameter count's {self.parameter_kendall:.2f}"
        return None


def not_testable(reason: str) -> str:
    """The verdict of a claim the evidence here cannot decide, with why."""
    return f"not testable here: {reason}"


def verdict(gaps: Sequence[float | None], floors: Sequence[NoiseFloor | None] | NoiseFloor, unit: str = "",
            min_seeds: int = 1, fidelity: Fidelity | None = None) -> str:
    """The one verdict rule for a claim tested once per seed.

    ``gaps`` are signed, one per seed (positive: the claim's direction; ``None``: that seed produced nothing to
    compare). The noise floor is the largest of ``floors`` (seed-to-seed spread, the benchmark's error, a bootstrap
    interval ...). "holds" only when every seed's gap is positive *and* larger than the floor; "does not hold" when
    every gap is negative and larger than the floor; otherwise "within noise". The text says the margin it used.
    Evidence whose ``fidelity`` is at chance or below the parameter count's gives "not testable here" instead.
    """
    if fidelity is not None and fidelity.untestable_reason:
        return not_testable(fidelity.untestable_reason)
    if len(gaps) < min_seeds:
        return f"not enough seeds ({len(gaps)}; a comparison needs at least {min_seeds})"
    floors = [floors] if isinstance(floors, NoiseFloor) else [f for f in floors if f is not None]
    floor = max(floors, key=lambda f: f.value, default=NoiseFloor(0.0, "no noise floor stated"))
    found = [float(g) for g in gaps if g is not None and np.isfinite(g)]
    agree = sum(g > 0 for g in found)
    seeds = f"{agree}/{len(gaps)} seed{'s' if len(gaps) != 1 else ''}"
    margin = f"floor {floor.describe(unit)}"
    if not found:
        return f"within noise ({seeds}: no seed produced a gap)"
    smallest = min(found, key=abs)
    if len(found) == len(gaps) and (agree == len(found) or agree == 0) and abs(smallest) > floor.value:
        word = "holds" if agree else "does not hold"
        return f"{word} ({seeds}; min gap {smallest:+.3g}{unit} > {margin})"
    why = ("seeds disagree" if 0 < agree < len(found) or len(found) < len(gaps)
           else f"min gap {smallest:+.3g}{unit} <=")
    return f"within noise ({seeds}; {why}{' ' if why.endswith('<=') else '; '}{margin})"


def median_over_seeds(values: list[float], label: str, fmt: str) -> Labelled:
    """``median [q1-q3]`` over seeds, labelled."""
    values = [v for v in values if v is not None and np.isfinite(v)]
    if not values:
        return Labelled.missing("no seed found one")
    q1, median, q3 = np.percentile(values, [25, 50, 75])
    text = f"{fmt.format(median)} [{fmt.format(q1)}-{fmt.format(q3)}]"
    return Labelled(text, f"{label}; median [IQR] of {len(values)} seeds")
