"""The linear latency model shared by the Pixel-1 model and a user's own device models, and its grouped validation.

A network's latency on a phone CPU is, op by op, a fixed dispatch cost plus its arithmetic at the op type's
efficiency plus the memory traffic of its tensors. The model is ``latency_ms = features @ coefficients`` with
non-negative coefficients (a negative cost would be meaningless and extrapolates badly), fitted on *relative* error
(``scipy.optimize.nnls`` on rows divided by their latency) because the goal is a small percentage error on 5 ms and
180 ms networks alike. Which features it uses is a :class:`FeatureSpec`, chosen among :data:`CANDIDATES` by
grouped cross-validation, never by how well it fits the points themselves.

**One canonical representation.** Features are read off :func:`canonical_ops`: explicit padding is merged into the
convolution it feeds (``ZeroPadding2D`` + ``valid`` and ``same`` padding are one network) and a classifier's
softmax is dropped, so MobileNetV2 built by Keras and MobileNetV2 written as a MnasNet-space network give equal
features.

**Grouped cross-validation.** Leave-one-out keeps every left-out point's neighbours on the same scaling slice, so it
measures interpolation. A *scheme* groups the points (by family, by width multiplier, by input resolution); each
group is predicted by a model fitted without it. A band's mean signed error (e.g. every 0.35x network predicted
while no 0.35x network was in the fit) shows a lean that a MAPE hides. Model selection is nested: the reported
out-of-sample errors come from predicting each held-out group with the spec chosen on the remaining groups only.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Iterable, Mapping, Sequence

import numpy as np
from scipy.optimize import nnls
from sklearn.model_selection import LeaveOneGroupOut

from mnaslib.spaces.ops import Op

# Mult-adds features by op kind. A 1x1 and a kxk convolution share one coefficient: the runtime computes both as a
# GEMM (kxk through im2col or an indirect GEMM), and the published networks hold kxk convolutions only in their
# stems, too few mult-adds to fix a coefficient of their own. Fitted apart, NNLS set the kxk one to 0, so a search
# scored by the model found whole stages of kxk convolutions free (648M mult-adds "at 24 ms" in the MnasNet space).
_MACS_FEATURE = {"conv1x1": "conv", "convkxk": "conv", "depthwise": "depthwise", "dense": "dense"}
_MACS_KINDS = ("conv", "depthwise", "dense")
_DROPPED = ("softmax",)


def canonical_ops(ops: Iterable[Op]) -> list[Op]:
    """The ops with explicit padding merged into the op it feeds (that op reads the unpadded tensor, as a
    ``same``-padded one does) and classifier softmaxes dropped: one op list per network, whichever builder made it."""
    result: list[Op] = []
    padded_from: int | None = None
    for op in ops:
        if op.kind == "pad":
            padded_from = op.in_elems if padded_from is None else padded_from
            continue
        if op.kind in _DROPPED:
            continue
        if padded_from is not None:
            op, padded_from = op._replace(in_elems=padded_from), None
        result.append(op)
    return result


@dataclass(frozen=True)
class FeatureSpec:
    """Which features a model reads off a network's ops.

    Always: mult-adds (millions) of convolutions (1x1 and kxk together), depthwise convolutions and dense layers,
    activation traffic (elements read plus written, millions) and the number of ops (the per-op dispatch cost). Options:

    * ``large_tensor``: traffic of ops whose largest tensor exceeds this many elements is a feature of its own (a
      tensor that no longer fits the cache costs more per element); 0 keeps one traffic feature;
    * ``outputs``: output elements of convolutions and of depthwise convolutions (a kernel's per-output cost:
      loading and storing accumulators, which a small reduction does not amortise);
    * ``channel_tile``: mult-adds counted with channels rounded up to this tile (SIMD kernels compute whole tiles,
      so 20 channels cost 24 or 32); 0 counts exact mult-adds;
    * ``large_depthwise``: mult-adds of depthwise kernels larger than 3x3 are a feature of their own (runtimes
      hand-tune the 3x3 depthwise kernel; 5x5 and 7x7 may take a slower path).
    """

    large_tensor: int = 0
    outputs: bool = False
    channel_tile: int = 0
    large_depthwise: bool = False

    @property
    def names(self) -> tuple[str, ...]:
        macs = tuple(f"mult_adds_{kind}_m" for kind in _MACS_KINDS)
        if self.large_depthwise:
            macs += ("mult_adds_depthwise_large_kernel_m",)
        traffic = ("traffic_small_m", "traffic_large_m") if self.large_tensor else ("traffic_m",)
        outputs = ("outputs_conv_m", "outputs_depthwise_m") if self.outputs else ()
        return (*macs, *traffic, *outputs, "ops")

    @property
    def text(self) -> str:
        return (f"large tensor > {self.large_tensor} elements, " if self.large_tensor else "one traffic term, ") + \
            ("per-output costs, " if self.outputs else "") + \
            (f"channels in tiles of {self.channel_tile}" if self.channel_tile else "exact mult-adds") + \
            (", depthwise kernels above 3x3 apart" if self.large_depthwise else "")

    def vector(self, ops: Iterable[Op]) -> np.ndarray:
        """The features (``names`` order) of an op list; callers pass :func:`canonical_ops` output."""
        index = {name: i for i, name in enumerate(self.names)}
        values = np.zeros(len(index))
        for op in ops:
            if op.kind in _MACS_FEATURE:
                kind = _MACS_FEATURE[op.kind]
                if kind == "depthwise" and self.large_depthwise and op.mult_adds > 9 * op.out_elems:  # k*k per output
                    kind = "depthwise_large_kernel"
                values[index[f"mult_adds_{kind}_m"]] += op.mult_adds * self._tile_factor(op) / 1e6
                if self.outputs:
                    values[index["outputs_depthwise_m" if op.kind == "depthwise" else "outputs_conv_m"]] += \
                        op.out_elems / 1e6
            traffic = (op.in_elems + op.out_elems) / 1e6
            if self.large_tensor:
                large = max(op.in_elems, op.out_elems) > self.large_tensor
                values[index["traffic_large_m" if large else "traffic_small_m"]] += traffic
            else:
                values[index["traffic_m"]] += traffic
            values[index["ops"]] += 1
        return values

    def _tile_factor(self, op: Op) -> float:
        tile = self.channel_tile
        if not tile or not op.out_channels:
            return 1.0
        channels = op.in_channels if op.kind == "depthwise" else op.out_channels
        return -(-channels // tile) * tile / channels


# The candidates grouped CV chooses among: small on purpose (42 published points cannot support a wide search).
CANDIDATES = tuple(FeatureSpec(large, outputs, tile, kernels) for large in (0, 131072, 262144)
                   for outputs in (False, True) for tile in (0, 8, 16) for kernels in (False, True))


# ---------------------------------------------------------------------------------------------------------------
# Fitting and grouped cross-validation
# ---------------------------------------------------------------------------------------------------------------
def fit_nnls(features: np.ndarray, latency: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Non-negative least squares on weighted relative errors."""
    scale = np.sqrt(weights) / latency
    coefficients, _ = nnls(features * scale[:, None], latency * scale)
    return coefficients


def group_predictions(features: np.ndarray, latency: np.ndarray, weights: np.ndarray,
                      groups: np.ndarray) -> np.ndarray:
    """Each point predicted by the fit on every group but its own (``groups = arange(n)`` is leave-one-out)."""
    predictions = np.empty(len(latency))
    for train, test in LeaveOneGroupOut().split(features, groups=groups):
        predictions[test] = features[test] @ fit_nnls(features[train], latency[train], weights[train])
    return predictions


def _usable(schemes: Mapping[str, np.ndarray], index: np.ndarray) -> dict[str, np.ndarray]:
    return {name: groups[index] for name, groups in schemes.items() if len(np.unique(groups[index])) >= 2}


def grouped_mape(features: np.ndarray, latency: np.ndarray, weights: np.ndarray,
                 schemes: Mapping[str, np.ndarray]) -> float:
    """Mean absolute relative error over every scheme's held-out predictions pooled (the selection criterion)."""
    errors = [np.abs(group_predictions(features, latency, weights, groups) / latency - 1)
              for groups in schemes.values()]
    return float(np.mean(np.concatenate(errors))) if errors else float("nan")


def select_spec(op_lists: Sequence[list[Op]], latency: np.ndarray, weights: np.ndarray,
                schemes: Mapping[str, np.ndarray], candidates: Sequence[FeatureSpec] = CANDIDATES) -> FeatureSpec:
    """The candidate with the lowest pooled grouped-CV error on these points (ties: the simpler, listed first)."""
    schemes = _usable(schemes, np.arange(len(latency)))
    scores = [grouped_mape(np.stack([spec.vector(ops) for ops in op_lists]), latency, weights, schemes)
              for spec in candidates]
    return candidates[int(np.nanargmin(scores))] if np.isfinite(scores).any() else candidates[0]


def nested_predictions(op_lists: Sequence[list[Op]], latency: np.ndarray, weights: np.ndarray,
                       schemes: Mapping[str, np.ndarray], candidates: Sequence[FeatureSpec] = CANDIDATES
                       ) -> dict[str, np.ndarray]:
    """For each scheme, every point predicted by a model whose features were chosen (by grouped CV) and whose
    coefficients were fitted on the other groups alone: out-of-sample for the selection as well as the fit."""
    out = {}
    matrices = {spec: np.stack([spec.vector(ops) for ops in op_lists]) for spec in candidates}
    for name, groups in schemes.items():
        predictions = np.empty(len(latency))
        for train, test in LeaveOneGroupOut().split(latency, groups=groups):
            inner = _usable(schemes, train)
            scores = [grouped_mape(matrices[spec][train], latency[train], weights[train], inner)
                      for spec in candidates]
            spec = candidates[int(np.nanargmin(scores))] if np.isfinite(scores).any() else candidates[0]
            coefficients = fit_nnls(matrices[spec][train], latency[train], weights[train])
            predictions[test] = matrices[spec][test] @ coefficients
        out[name] = predictions
    return out


@dataclass(frozen=True)
class SchemeError:
    """How one grouping's held-out predictions did: MAPE, max, and each group's mean signed error (its lean)."""

    scheme: str
    mape: float
    max_error: float
    groups: int
    band_mean_error: dict[str, float]

    @classmethod
    def of(cls, scheme: str, predictions: np.ndarray, latency: np.ndarray, groups: np.ndarray) -> "SchemeError":
        errors = predictions / latency - 1
        bands = {str(g): float(np.mean(errors[groups == g])) for g in np.unique(groups)}
        return cls(scheme, float(np.mean(np.abs(errors))), float(np.max(np.abs(errors))), len(bands), bands)


def validation_summary(op_lists: Sequence[list[Op]], latency: np.ndarray, weights: np.ndarray,
                       schemes: Mapping[str, np.ndarray], spec: FeatureSpec,
                       candidates: Sequence[FeatureSpec] = CANDIDATES) -> dict:
    """Leave-one-out and grouped errors of ``spec``, and the nested (selection held out too) grouped errors: the
    numbers a label, a benchmark and the docs show. ``grouped_mape`` is the nested errors of every scheme pooled."""
    schemes = _usable(schemes, np.arange(len(latency)))
    matrix = np.stack([spec.vector(ops) for ops in op_lists])
    loo = group_predictions(matrix, latency, weights, np.arange(len(latency)))
    nested = nested_predictions(op_lists, latency, weights, schemes, candidates)
    pooled = np.concatenate([np.abs(p / latency - 1) for p in nested.values()]) if nested else np.array([np.nan])
    return {"loo_mape": float(np.mean(np.abs(loo / latency - 1))),
            "loo_max_error": float(np.max(np.abs(loo / latency - 1))),
            "loo_predictions": loo.tolist(),
            "grouped_mape": float(np.mean(pooled)),
            "grouped_max_error": float(np.max(pooled)),
            "schemes": {name: asdict(SchemeError.of(name, nested[name], latency, schemes[name])) for name in nested},
            "fixed_spec_schemes": {name: asdict(SchemeError.of(name, group_predictions(matrix, latency, weights, g),
                                                               latency, g)) for name, g in schemes.items()},
            "nested_predictions": {name: p.tolist() for name, p in nested.items()}}


def worst_band(summary: dict, schemes: Sequence[str] = ("width", "resolution")) -> tuple[str, float]:
    """The width or resolution band with the largest mean signed error (nested), e.g. ``('width 0.5', 0.071)``."""
    bands = [(f"{scheme} {band}", error) for scheme in schemes if scheme in summary["schemes"]
             for band, error in summary["schemes"][scheme]["band_mean_error"].items()]
    return max(bands, key=lambda b: abs(b[1])) if bands else ("", float("nan"))
