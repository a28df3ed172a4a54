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

from dataclasses import asdict, dataclass, replace
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
_PIXEL_KINDS = ("", "conv", "depthwise")


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
      hand-tune the 3x3 depthwise kernel; 5x5 and 7x7 may take a slower path);
    * ``weights``: parameters (millions) of convolutions, depthwise convolutions and dense layers: every inference
      reads each weight from memory at least once, a cost that does not shrink with the input size, so it is what
      a wide network at a small resolution spends its time on;
    * ``large_weights``: with ``weights``, the parameters of ops holding more than this many weights are a feature
      of their own (a layer's weights that no longer fit the cache are streamed from DRAM); 0 keeps one feature;
    * ``pixels``: output positions (height x width, millions) of ``conv`` (every convolution, depthwise included) or
      of ``depthwise`` convolutions only: a kernel's per-position loop cost, independent of channels, which makes a
      narrow network slower than its mult-adds say; empty for none;
    * ``split_dispatch``: the op count split into ops with mult-adds and the others (elementwise, pooling,
      concatenation): a convolution's dispatch packs and prepares more than an add's;
    * ``narrow_depthwise``: mult-adds of depthwise convolutions with at most this many channels counted once more
      (a depthwise kernel vectorises over channels, so few channels leave its SIMD lanes and loop idle); 0 for none;
    * ``im2col``: mult-adds of kxk (non-depthwise) convolutions counted once more: the runtime expands their input
      by im2col before the GEMM that a 1x1 convolution runs directly (an extra cost, never a discount, so a search
      cannot find kxk convolutions cheaper than 1x1 ones).
    """

    large_tensor: int = 0
    outputs: bool = False
    channel_tile: int = 0
    large_depthwise: bool = False
    weights: bool = False
    large_weights: int = 0
    pixels: str = ""
    split_dispatch: bool = False
    narrow_depthwise: int = 0
    im2col: bool = False

    def __post_init__(self) -> None:
        if self.pixels not in _PIXEL_KINDS:
            raise ValueError(f"pixels must be one of {sorted(_PIXEL_KINDS)}, got {self.pixels!r}")
        if self.large_weights and not self.weights:
            raise ValueError("large_weights splits the weights feature: it needs weights=True")

    @property
    def names(self) -> tuple[str, ...]:
        macs = tuple(f"mult_adds_{kind}_m" for kind in _MACS_KINDS)
        if self.large_depthwise:
            macs += ("mult_adds_depthwise_large_kernel_m",)
        if self.narrow_depthwise:
            macs += ("mult_adds_depthwise_narrow_m",)
        if self.im2col:
            macs += ("mult_adds_convkxk_m",)
        traffic = ("traffic_small_m", "traffic_large_m") if self.large_tensor else ("traffic_m",)
        weights = ("weights_small_m", "weights_large_m") if self.large_weights else \
            ("weights_m",) if self.weights else ()
        outputs = ("outputs_conv_m", "outputs_depthwise_m") if self.outputs else ()
        pixels = ("pixels_m",) if self.pixels else ()
        ops = ("ops_compute", "ops_other") if self.split_dispatch else ("ops",)
        return (*macs, *traffic, *weights, *outputs, *pixels, *ops)

    @property
    def text(self) -> str:
        parts = [f"large tensor > {self.large_tensor} elements" if self.large_tensor else "one traffic term"]
        if self.weights:
            parts.append(f"weight traffic (layers > {self.large_weights} weights apart)" if self.large_weights
                         else "weight traffic")
        if self.outputs:
            parts.append("per-output costs")
        if self.pixels:
            parts.append(f"per-position costs of {'every convolution' if self.pixels == 'conv' else 'depthwise'}")
        parts.append(f"channels in tiles of {self.channel_tile}" if self.channel_tile else "exact mult-adds")
        if self.large_depthwise:
            parts.append("depthwise kernels above 3x3 apart")
        if self.narrow_depthwise:
            parts.append(f"extra cost of depthwise with <= {self.narrow_depthwise} channels")
        if self.im2col:
            parts.append("extra (im2col) cost of kxk convolutions")
        if self.split_dispatch:
            parts.append("dispatch cost by op kind")
        return ", ".join(parts)

    def vector(self, ops: Iterable[Op]) -> np.ndarray:
        """The features (``names`` order) of an op list; callers pass :func:`canonical_ops` output."""
        index = {name: i for i, name in enumerate(self.names)}
        values = np.zeros(len(index))
        for op in ops:
            if op.kind in _MACS_FEATURE:
                self._add_compute(values, index, op)
            traffic = (op.in_elems + op.out_elems) / 1e6
            if self.large_tensor:
                large = max(op.in_elems, op.out_elems) > self.large_tensor
                values[index["traffic_large_m" if large else "traffic_small_m"]] += traffic
            else:
                values[index["traffic_m"]] += traffic
            if self.split_dispatch:
                values[index["ops_compute" if op.kind in _MACS_FEATURE else "ops_other"]] += 1
            else:
                values[index["ops"]] += 1
        return values

    def _add_compute(self, values: np.ndarray, index: Mapping[str, int], op: Op) -> None:
        """The mult-adds, weights, outputs and positions of one convolution or dense layer."""
        kind = _MACS_FEATURE[op.kind]
        mult_adds = op.mult_adds * self._tile_factor(op) / 1e6
        if kind == "depthwise" and self.large_depthwise and op.mult_adds > 9 * op.out_elems:  # k*k per output
            kind = "depthwise_large_kernel"
        values[index[f"mult_adds_{kind}_m"]] += mult_adds
        if self.narrow_depthwise and op.kind == "depthwise" and op.in_channels <= self.narrow_depthwise:
            values[index["mult_adds_depthwise_narrow_m"]] += mult_adds
        if self.im2col and op.kind == "convkxk":
            values[index["mult_adds_convkxk_m"]] += mult_adds
        positions = op.out_elems / op.out_channels if op.out_channels else 0.0
        if self.weights and positions:
            weights = op.mult_adds / positions  # each weight is used once per output position
            large = bool(self.large_weights) and weights > self.large_weights
            values[index["weights_large_m" if large else "weights_small_m" if self.large_weights
                         else "weights_m"]] += weights / 1e6
        if self.outputs:
            values[index["outputs_depthwise_m" if op.kind == "depthwise" else "outputs_conv_m"]] += op.out_elems / 1e6
        if self.pixels and op.kind != "dense" and (self.pixels == "conv" or op.kind == "depthwise"):
            values[index["pixels_m"]] += positions / 1e6

    def _tile_factor(self, op: Op) -> float:
        tile = self.channel_tile
        if not tile or not op.out_channels:
            return 1.0
        channels = op.in_channels if op.kind == "depthwise" else op.out_channels
        return -(-channels // tile) * tile / channels


# The candidates grouped CV chooses among. The first 36 (cache threshold, per-output costs, channel tiles, large
# depthwise kernels) were the whole set before weight traffic and the other physical terms were tried; each later
# term is one option over those 36, alone and with weight traffic, not their full product: 42 published points
# cannot support a search over thousands of specs. Every term that was tried stays a candidate, chosen or not.
_BASE = tuple(FeatureSpec(large, outputs, tile, kernels) for large in (0, 131072, 262144)
              for outputs in (False, True) for tile in (0, 8, 16) for kernels in (False, True))
_WEIGHTS = ({"weights": True}, *({"weights": True, "large_weights": n} for n in (65536, 131072, 262144)))
_TERMS = ({"pixels": "conv"}, {"pixels": "depthwise"}, {"split_dispatch": True}, {"narrow_depthwise": 16},
          {"narrow_depthwise": 32}, {"im2col": True})
CANDIDATES = _BASE + tuple(replace(spec, **weights) for weights in _WEIGHTS for spec in _BASE) + \
    tuple(replace(spec, **term, **weights) for term in _TERMS for weights in ({}, {"weights": True})
          for spec in _BASE)


# ---------------------------------------------------------------------------------------------------------------
# Fitting and grouped cross-validation
# ---------------------------------------------------------------------------------------------------------------
def fit_nnls(features: np.ndarray, latency: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Non-negative least squares on weighted relative errors."""
    scale = np.sqrt(weights) / latency
    coefficients, _ = nnls(features * scale[:, None], latency * scale)
    return coefficients


Splits = list[tuple[np.ndarray, np.ndarray]]


def _splits(groups: np.ndarray) -> Splits:
    """The (train, test) index pairs that hold each group out in turn: computed once per grouping, because nested
    CV scores every candidate on the same folds."""
    return list(LeaveOneGroupOut().split(groups, groups=groups))


def _predictions(features: np.ndarray, latency: np.ndarray, weights: np.ndarray, splits: Splits) -> np.ndarray:
    predictions = np.empty(len(latency))
    for train, test in splits:
        predictions[test] = features[test] @ fit_nnls(features[train], latency[train], weights[train])
    return predictions


def group_predictions(features: np.ndarray, latency: np.ndarray, weights: np.ndarray,
                      groups: np.ndarray) -> np.ndarray:
    """Each point predicted by the fit on every group but its own (``groups = arange(n)`` is leave-one-out)."""
    return _predictions(features, latency, weights, _splits(groups))


def _usable(schemes: Mapping[str, np.ndarray], index: np.ndarray) -> dict[str, np.ndarray]:
    return {name: groups[index] for name, groups in schemes.items() if len(np.unique(groups[index])) >= 2}


def _pooled_error(features: np.ndarray, latency: np.ndarray, weights: np.ndarray, split_sets: Sequence[Splits]
                  ) -> float:
    errors = [np.abs(_predictions(features, latency, weights, splits) / latency - 1) for splits in split_sets]
    return float(np.mean(np.concatenate(errors))) if errors else float("nan")


def grouped_mape(features: np.ndarray, latency: np.ndarray, weights: np.ndarray,
                 schemes: Mapping[str, np.ndarray]) -> float:
    """Mean absolute relative error over every scheme's held-out predictions pooled (the selection criterion)."""
    return _pooled_error(features, latency, weights, [_splits(groups) for groups in schemes.values()])


def _best(matrices: Mapping[FeatureSpec, np.ndarray], index: np.ndarray, latency: np.ndarray, weights: np.ndarray,
          schemes: Mapping[str, np.ndarray], candidates: Sequence[FeatureSpec]) -> FeatureSpec:
    """The candidate with the lowest pooled grouped-CV error on the points ``index`` (ties: the one listed first)."""
    split_sets = [_splits(groups) for groups in _usable(schemes, index).values()]
    scores = [_pooled_error(matrices[spec][index], latency[index], weights[index], split_sets) for spec in candidates]
    return candidates[int(np.nanargmin(scores))] if np.isfinite(scores).any() else candidates[0]


def _matrices(op_lists: Sequence[list[Op]], candidates: Sequence[FeatureSpec]) -> dict[FeatureSpec, np.ndarray]:
    return {spec: np.stack([spec.vector(ops) for ops in op_lists]) for spec in candidates}


def select_spec(op_lists: Sequence[list[Op]], latency: np.ndarray, weights: np.ndarray,
                schemes: Mapping[str, np.ndarray], candidates: Sequence[FeatureSpec] = CANDIDATES) -> FeatureSpec:
    """The candidate with the lowest pooled grouped-CV error on these points (ties: the simpler, listed first)."""
    return _best(_matrices(op_lists, candidates), np.arange(len(latency)), latency, weights, schemes, candidates)


def nested_predictions(op_lists: Sequence[list[Op]], latency: np.ndarray, weights: np.ndarray,
                       schemes: Mapping[str, np.ndarray], candidates: Sequence[FeatureSpec] = CANDIDATES
                       ) -> dict[str, np.ndarray]:
    """For each scheme, every point predicted by a model whose features were chosen (by grouped CV) and whose
    coefficients were fitted on the other groups alone: out-of-sample for the selection as well as the fit."""
    out = {}
    matrices = _matrices(op_lists, candidates)
    for name, groups in schemes.items():
        predictions = np.empty(len(latency))
        for train, test in _splits(groups):
            spec = _best(matrices, train, latency, weights, schemes, candidates)
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
