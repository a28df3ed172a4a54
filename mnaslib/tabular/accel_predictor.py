"""An ImageNet top-1 predictor for MnasNet-space networks, learned from Accel-NASBench's trained networks.

The laptop cannot train a MnasNet child on ImageNet, and a training-free score (NASWOT) ranked Accel-NASBench's
trained networks barely better than chance (``benchmarks/accel_fidelity.py``). Accel-NASBench's 5,138 trainings are
the closest ground truth to the MnasNet space: EfficientNet-B0's skeleton (MobileNetV2's with other widths) with the
same per-block MBConv choices. This module learns their top-1 from what *both* spaces' networks have, so that the
same model scores a MnasNet-space child:

* per block (7 blocks): MBConv expansion, depthwise kernel, number of layers and squeeze-excitation (0/1);
* for the whole network: log10 of its trainable parameters and of its mult-adds at 224x224 (1000 classes), and its
  number of layers.

What such a model cannot know about a MnasNet-space child, said in its label (``CANNOT_SEE``): the regular ``conv``
op (entered as expansion 1, like ``dconv``), the pooling and no-skip choices, the filter multipliers and base widths
(seen only through the parameter and mult-add counts), expansion 3 (Accel-NASBench has 1, 4 and 6) and layer counts
outside 1-3 (1-4 in its sixth block): trees neither interpolate nor extrapolate, they answer with the nearest seen.

**The split is fixed**: every network whose ``result_<n>.json`` number n is a multiple of 5 is the *verdict part*
(1,028 trainings), on which nothing is fitted, tuned or chosen; the rest is the *choosing part* (4,110), on which
candidates are compared by grouped cross-validation and the chosen one is fitted. ``benchmarks/accel_fidelity.py``
does both and writes the verdict part's aggregate numbers to ``data/fidelity/accel-nasbench.json``, which the
predictor's label quotes (``AccelPredictor.provenance``).
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import pandas as pd
from scipy.stats import kendalltau
from sklearn.ensemble import HistGradientBoostingRegressor
from sklearn.linear_model import RidgeCV
from sklearn.model_selection import GroupKFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from mnaslib.spaces.arch import Arch
from mnaslib.labels import Provenance
from mnaslib.spaces.ops import arch_ops, arch_params
from mnaslib.spaces.accel import (EXPANSIONS, IN_FILTERS, KERNELS, LAYERS, LONG_BLOCK, LONG_LAYERS, OUT_FILTERS,
                                  STEM_FILTERS, AccelSpace)
from mnaslib.tabular.accel_surrogate import network_groups, table_tokens

VERDICT_EVERY = 5  # result numbers divisible by this are the verdict part
BLOCKS = 7
PER_BLOCK = ("expansion", "kernel", "layers", "se")
FEATURE_NAMES = tuple(f"block{b}_{name}" for b in range(BLOCKS) for name in PER_BLOCK) + (
    "log10_params", "log10_mult_adds", "layers")
SIZE_FEATURES = ("log10_params", "log10_mult_adds", "layers")
CANNOT_SEE = ("conv ops (taken as expansion 1), pooling and no skips, filter multipliers (only through params and "
              "mult-adds), expansion 3 and layer counts outside Accel-NASBench's")
SUMMARY = Path(__file__).resolve().parent.parent.parent / "data" / "fidelity" / "accel-nasbench.json"
TARGET = "val_top1"


def arch_features(arch: Arch) -> np.ndarray:
    """``FEATURE_NAMES`` of one network of 7 blocks (either space): what a predictor may learn from."""
    if len(arch.blocks) != BLOCKS:
        raise ValueError(f"the predictor reads networks of {BLOCKS} blocks, got {len(arch.blocks)}")
    per_block = [(b.expand_ratio, b.kernel, b.repeats, float(b.se_ratio > 0)) for b in arch.blocks]
    mult_adds = sum(op.mult_adds for op in arch_ops(arch))
    return np.array([v for block in per_block for v in block]
                    + [np.log10(arch_params(arch)), np.log10(mult_adds), arch.num_layers], dtype=float)


def unseen_choices(arch: Arch) -> list[str]:
    """What of ``arch`` lies outside Accel-NASBench's space, so that the predictor cannot know it (``CANNOT_SEE``
    made specific to one network); empty for a network of the benchmark's own space."""
    blocks = arch.blocks
    # a skip choice matters only where a layer keeps its shape: every layer after a block's first, or its first
    skipping = [b.skip for b in blocks if b.repeats > 1 or (b.stride == 1 and b.in_filters == b.out_filters)]
    found = []
    for what, seen, values in (
            ("conv/dconv ops", {"mbconv"}, [b.op for b in blocks]),
            ("pooling or no skips", {"identity"}, skipping),
            ("expansion", set(EXPANSIONS), [b.expand_ratio for b in blocks]),
            ("kernel", set(KERNELS), [b.kernel for b in blocks])):
        outside = sorted({str(v) for v in values if v not in seen})
        if outside:
            found.append(f"{what} {', '.join(outside)}" if what in ("expansion", "kernel") else what)
    layers = [b.repeats for i, b in enumerate(blocks) if b.repeats not in (LONG_LAYERS if i == LONG_BLOCK else LAYERS)]
    if layers:
        found.append(f"layer counts {', '.join(map(str, sorted(set(layers))))}")
    if (tuple(b.in_filters for b in blocks), tuple(b.out_filters for b in blocks)) != (IN_FILTERS, OUT_FILTERS) \
            or arch.stem_filters != STEM_FILTERS:
        found.append("its filter widths (seen only through params and mult-adds)")
    return found


def feature_matrix(archs: Sequence[Arch]) -> np.ndarray:
    return np.vstack([arch_features(a) for a in archs])


def split(table: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``(choosing, verdict)``: the verdict part is every row whose result number is a multiple of 5."""
    verdict = table["result"].to_numpy() % VERDICT_EVERY == 0
    return table[~verdict].reset_index(drop=True), table[verdict].reset_index(drop=True)


def table_archs(table: pd.DataFrame) -> list[Arch]:
    space = AccelSpace()
    return [space.decode(list(row)) for row in table_tokens(table, space)]


def kendall_within_terciles(score: np.ndarray, target: np.ndarray, mult_adds: np.ndarray) -> float:
    """Mean Kendall tau inside the three mult-add terciles of the scored networks (a pure size signal scores low)."""
    edges = np.quantile(mult_adds, [1 / 3, 2 / 3])
    bins = np.digitize(mult_adds, edges)
    return float(np.mean([kendalltau(score[bins == b], target[bins == b]).statistic for b in range(3)]))


def rank_fidelity(score: np.ndarray, target: np.ndarray, mult_adds: np.ndarray) -> dict[str, float]:
    """Kendall tau overall and within mult-add terciles, and the count."""
    score, target = np.asarray(score, float), np.asarray(target, float)
    return {"kendall": float(kendalltau(score, target).statistic),
            "kendall_terciles": kendall_within_terciles(score, target, np.asarray(mult_adds, float)),
            "n": int(len(target))}


def _hgb(monotone: bool, columns: Sequence[str]) -> HistGradientBoostingRegressor:
    # monotone: more parameters, mult-adds and layers never predict a lower accuracy (a size prior that also holds
    # where the MnasNet space leaves Accel-NASBench's range)
    constraints = [1 if monotone and name in SIZE_FEATURES else 0 for name in columns]
    return HistGradientBoostingRegressor(max_iter=600, learning_rate=0.05, max_leaf_nodes=15, min_samples_leaf=20,
                                         l2_regularization=1.0, monotonic_cst=constraints, random_state=0)


# name -> (columns it reads, model factory or None for a column read as it is)
CANDIDATES: dict[str, tuple[tuple[str, ...], Any]] = {
    "params": (("log10_params",), None),
    "mult_adds": (("log10_mult_adds",), None),
    "size_ridge": (SIZE_FEATURES, lambda cols: make_pipeline(StandardScaler(), RidgeCV())),
    "blocks_ridge": (FEATURE_NAMES, lambda cols: make_pipeline(StandardScaler(), RidgeCV())),
    "blocks_gbm": (FEATURE_NAMES[:-3], lambda cols: _hgb(False, cols)),
    "blocks_size_gbm": (FEATURE_NAMES, lambda cols: _hgb(False, cols)),
    "blocks_size_gbm_monotone": (FEATURE_NAMES, lambda cols: _hgb(True, cols)),
}


def columns(names: Sequence[str]) -> list[int]:
    return [FEATURE_NAMES.index(name) for name in names]


def fit_candidate(name: str, X: np.ndarray, y: np.ndarray):
    """The candidate ``name`` fitted on features ``X`` (``FEATURE_NAMES`` order) and top-1 ``y``; None for the
    unfitted counts."""
    cols, factory = CANDIDATES[name]
    return None if factory is None else factory(cols).fit(X[:, columns(cols)], y)


def predict_candidate(name: str, model, X: np.ndarray) -> np.ndarray:
    cols, _ = CANDIDATES[name]
    return X[:, columns(cols)[0]] if model is None else model.predict(X[:, columns(cols)])


def cross_validate(name: str, X: np.ndarray, y: np.ndarray, folds: int = 5, seed: int = 0) -> dict[str, float]:
    """Grouped ``folds``-fold cross-validation on the choosing part: Kendall overall and within terciles over the
    pooled out-of-fold predictions, and their RMSE in top-1 points (NaN for the unfitted counts)."""
    predicted = np.empty(len(y))
    for train, test in GroupKFold(n_splits=folds, shuffle=True, random_state=seed).split(X, y, network_groups(X)):
        predicted[test] = predict_candidate(name, fit_candidate(name, X[train], y[train]), X[test])
    rmse = np.nan if CANDIDATES[name][1] is None else float(np.sqrt(np.mean((predicted - y) ** 2)))
    return {**rank_fidelity(predicted, y, 10 ** X[:, FEATURE_NAMES.index("log10_mult_adds")]), "rmse": rmse}


def size_extrapolation(name: str, X: np.ndarray, y: np.ndarray) -> dict[str, float]:
    """Fitted on the choosing part's smaller two thirds by mult-adds, judged on its largest third, and the other
    way round (mean of the two): how a candidate ranks networks outside the sizes it learnt from, as a MnasNet
    child with other widths is."""
    mult_adds = X[:, FEATURE_NAMES.index("log10_mult_adds")]
    low, high = np.quantile(mult_adds, [1 / 3, 2 / 3])
    taus = []
    for train, test in ((mult_adds < high, mult_adds >= high), (mult_adds >= low, mult_adds < low)):
        predicted = predict_candidate(name, fit_candidate(name, X[train], y[train]), X[test])
        taus.append(kendalltau(predicted, y[test]).statistic)
    return {"kendall_outside_sizes": float(np.mean(taus))}


@lru_cache(maxsize=1)
def load_summary(path: str | None = None) -> dict[str, Any] | None:
    """The committed verdict-part summary (``benchmarks/accel_fidelity.py --summary``), or None where absent."""
    file = Path(path) if path else SUMMARY
    return json.loads(file.read_text()) if file.exists() else None


@dataclass
class AccelPredictor:
    """The chosen candidate fitted on the whole choosing part; ``predict`` gives top-1 in percent."""

    name: str
    model: Any
    n_fitted: int
    size_range: dict[str, tuple[float, float]] | None = None  # SIZE_FEATURES' (min, max) over the fitted networks

    @classmethod
    def fit(cls, table: pd.DataFrame, name: str | None = None) -> "AccelPredictor":
        """Fit candidate ``name`` (default: the one the committed summary chose) on ``table``'s choosing part."""
        name = name or (load_summary() or {}).get("chosen", "blocks_size_gbm_monotone")
        if CANDIDATES[name][1] is None:
            raise ValueError(f"{name} is a count, not an accuracy predictor")
        choosing, _ = split(table)
        X = feature_matrix(table_archs(choosing))
        ranges = {f: (float(X[:, columns([f])[0]].min()), float(X[:, columns([f])[0]].max())) for f in SIZE_FEATURES}
        return cls(name, fit_candidate(name, X, choosing[TARGET].to_numpy(float)), len(choosing), ranges)

    def outside_sizes(self, arch: Arch) -> list[str]:
        """The size features of ``arch`` outside the range of the networks the predictor was fitted on: there a
        tree answers with the nearest size it saw, so its value says nothing about the network's own size."""
        values = dict(zip(FEATURE_NAMES, arch_features(arch)))
        shown = {"log10_params": ("params", 1e-6, "M"), "log10_mult_adds": ("mult-adds", 1e-6, "M"),
                 "layers": ("layers", 1, "")}
        outside = []
        for feature, (low, high) in (self.size_range or {}).items():
            if not low <= values[feature] <= high:
                what, scale, unit = shown[feature]
                value, low, high = ((10 ** v * scale for v in (values[feature], low, high)) if feature != "layers"
                                    else (values[feature], low, high))
                outside.append(f"{what} {value:.3g}{unit} (fitted: {low:.3g}-{high:.3g}{unit})")
        return outside

    def predict(self, archs: Sequence[Arch]) -> np.ndarray:
        return np.clip(predict_candidate(self.name, self.model, feature_matrix(archs)), 0.0, 100.0)

    @property
    def provenance(self) -> Provenance:
        """``surrogate (...)``: fitted on what, its verdict-part error, and what it cannot see of a MnasNet child."""
        verdict = ((load_summary() or {}).get("verdict") or {}).get(self.name)
        error = (f"verdict part ({verdict['n']:,} held-out trainings): Kendall {verdict['kendall']:.2f}, "
                 f"{verdict['kendall_terciles']:.2f} within FLOPs terciles, RMSE {verdict['rmse']:.2f} points"
                 if verdict else "verdict-part error not measured")
        return Provenance("surrogate", f"ImageNet top-1 (16 epochs) predicted by {self.name} fitted on "
                                       f"{self.n_fitted:,} of Accel-NASBench's trainings; {error}; cannot see "
                                       f"{CANNOT_SEE}")
