"""The MnasNet multi-objective reward (paper equation 2), its relatives from other NAS papers, and Pareto tools.

MnasNet scores a sampled model ``m`` with a weighted product of accuracy and latency::

    R(m) = ACC(m) * (LAT(m) / T) ** w,    w = alpha if LAT(m) <= T else beta

Two presets come from the paper: ``soft`` (alpha = beta = -0.07), which trades accuracy for latency smoothly on both
sides of the target T, and ``hard`` (alpha = 0, beta = -1), which ignores latency below T and divides by LAT/T above
it. The exponent -0.07 is not arbitrary: it is the value that gives two Pareto-optimal models the same reward when
doubling latency buys 5% relative accuracy (``beta_for_tradeoff``).

For comparison the registry also holds the rewards of two later anchors, so a search can switch reward by name from a
config file: TuNAS (``mnas``, ``mnas_hard`` and its default ``abs``, beta = -0.1, T = 84 ms) and ProxylessNAS's RL
reward ``acc * (ref / lat) ** 0.1`` (ref = 80 ms), plus plain accuracy for the paper's single-objective ablation
(Table 5).

Accuracies are fractions in [0, 1] and latencies milliseconds. Every function is vectorised over numpy arrays with
broadcasting; scalar inputs give a Python ``float`` back.

The Pareto tools (``pareto_front``, ``hypervolume``) compare searches and model families on the accuracy-latency
plane: higher accuracy is better, lower latency is better.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal, Mapping

import numpy as np
from numpy.typing import ArrayLike, NDArray

from mnaslib.errors import UserError

Formula = Literal["weighted_product", "capped_product", "absolute", "accuracy"]
FORMULAS: tuple[str, ...] = ("weighted_product", "capped_product", "absolute", "accuracy")
_FORMULA_PARAMS: dict[str, tuple[str, ...]] = {
    "weighted_product": ("alpha", "beta", "target_ms"),
    "capped_product": ("beta", "target_ms"),
    "absolute": ("beta", "target_ms"),
    "accuracy": (),
}

# Paper (section 3): soft alpha = beta = -0.07, hard alpha = 0 / beta = -1; the ImageNet search used T = 75 ms.
SOFT_EXPONENT = -0.07
HARD_ALPHA, HARD_BETA = 0.0, -1.0
MNAS_TARGET_MS = 75.0
# TuNAS (default reward `abs`, exponent -0.1, T = 84 ms on a simulated Pixel 1) and ProxylessNAS (ref = 80 ms).
TUNAS_BETA, TUNAS_TARGET_MS = -0.1, 84.0
PROXYLESS_EXPONENT, PROXYLESS_REF_MS = 0.1, 80.0


def _as_float_array(value: ArrayLike, what: str) -> NDArray[np.float64]:
    """Convert to a float array and reject NaN, which would silently poison every comparison downstream."""
    try:
        array = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise UserError(f"{what} must be numeric (a number or an array of numbers), got {value!r}") from err
    if np.isnan(array).any():
        raise UserError(f"{what} contains NaN; drop or impute the missing values before computing rewards")
    return array


def _check_number(value: float, what: str) -> float:
    """Parameters must be finite real numbers; NaN or inf would make every reward or area NaN or inf."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise UserError(f"{what} must be a number, got {value!r}")
    if not math.isfinite(value):
        raise UserError(f"{what} must be finite, got {value!r}")
    return float(value)


def _check_target(target_ms: float) -> float:
    """A target must be a positive number of milliseconds: the reward divides latency by it."""
    target = _check_number(target_ms, "target latency T (target_ms)")
    if target <= 0:
        raise UserError(f"target latency T (target_ms) must be a positive number of milliseconds, got {target_ms!r}")
    return target


def _check_inputs(acc: ArrayLike, lat_ms: ArrayLike) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Validate accuracy (fraction in [0, 1]) and latency (positive ms) and broadcast them together."""
    acc_a = _as_float_array(acc, "accuracy ACC")
    lat_a = _as_float_array(lat_ms, "latency LAT")
    if ((acc_a < 0) | (acc_a > 1)).any():
        bad = acc_a[(acc_a < 0) | (acc_a > 1)].ravel()[0]
        raise UserError(
            f"accuracy ACC must be a fraction in [0, 1], got {bad!r}; pass percentages divided by 100 (75.2% -> 0.752)"
        )
    if (lat_a <= 0).any() or not np.isfinite(lat_a).all():
        bad = lat_a[(lat_a <= 0) | ~np.isfinite(lat_a)].ravel()[0]
        raise UserError(f"latency LAT must be a positive finite number of milliseconds, got {bad!r}")
    try:
        return np.broadcast_arrays(acc_a, lat_a)  # type: ignore[return-value]
    except ValueError as err:
        raise UserError(
            f"accuracy shape {acc_a.shape} and latency shape {lat_a.shape} do not broadcast; pass arrays of one shape"
        ) from err


def _scalar_or_array(result: NDArray[np.float64]) -> float | NDArray[np.float64]:
    """Scalars in, float out: callers scoring one model should not have to unwrap a 0-d array."""
    return float(result) if result.ndim == 0 else result


@dataclass(frozen=True)
class Reward:
    """One reward function, fully specified: a registry ``name``, the ``formula`` it uses and its parameters.

    Formulas (``r = LAT / T``):

    * ``weighted_product`` (MnasNet equation 2): ``ACC * r ** (alpha if r <= 1 else beta)``.
    * ``capped_product`` (TuNAS ``mnas_hard``): ``ACC * min(r ** beta, 1)``.
    * ``absolute`` (TuNAS ``abs``): ``ACC + beta * |r - 1|``.
    * ``accuracy`` (single objective): ``ACC``; latency is validated but ignored.

    Frozen so a reward can be stored in a search's config and results without being changed under them. Build one
    with ``get_reward``/``from_config`` rather than directly, so the name always matches the parameters.
    """

    name: str
    formula: Formula
    target_ms: float = MNAS_TARGET_MS
    alpha: float = 0.0
    beta: float = 0.0

    def __post_init__(self) -> None:
        if self.formula not in FORMULAS:
            raise UserError(f"unknown reward formula {self.formula!r}; expected one of {', '.join(FORMULAS)}")
        object.__setattr__(self, "target_ms", _check_target(self.target_ms))
        object.__setattr__(self, "alpha", _check_number(self.alpha, "alpha"))
        object.__setattr__(self, "beta", _check_number(self.beta, "beta"))

    def __call__(self, acc: ArrayLike, lat_ms: ArrayLike) -> float | NDArray[np.float64]:
        """Reward of models with accuracy ``acc`` (fraction) and latency ``lat_ms`` (ms); broadcasts arrays."""
        acc_a, lat_a = _check_inputs(acc, lat_ms)
        ratio = lat_a / self.target_ms
        if self.formula == "weighted_product":
            exponent = np.where(ratio <= 1.0, self.alpha, self.beta)
            result = acc_a * ratio**exponent
        elif self.formula == "capped_product":
            result = acc_a * np.minimum(ratio**self.beta, 1.0)
        elif self.formula == "absolute":
            result = acc_a + self.beta * np.abs(ratio - 1.0)
        else:
            result = acc_a.copy()
        return _scalar_or_array(result)

    @property
    def params(self) -> dict[str, float]:
        """The parameters that enter this reward's formula (unused fields are left out), e.g. for a legend."""
        return {key: getattr(self, key) for key in _FORMULA_PARAMS[self.formula]}

    @property
    def label(self) -> str:
        """A short human-readable description for legends, e.g. ``mnas_soft (alpha=-0.07, beta=-0.07, T=75 ms)``."""
        parts = [f"T={value:g} ms" if key == "target_ms" else f"{key}={value:g}" for key, value in self.params.items()]
        return f"{self.name} ({', '.join(parts)})" if parts else self.name

    def to_config(self) -> dict[str, Any]:
        """A plain dict (name and tunable parameters) that ``from_config`` turns back into an equal ``Reward``."""
        if self.name not in _PRESETS:
            raise UserError(
                f"reward {self.name!r} is not a registry name ({', '.join(REWARD_NAMES)}); build it with get_reward "
                "so it can be written to a config"
            )
        return {"name": self.name, **{key: getattr(self, key) for key in _PRESETS[self.name].tunable}}


@dataclass(frozen=True)
class _Preset:
    """How a registry name builds its Reward: a formula, fixed parameter values, and which ones a config may set."""

    formula: Formula
    defaults: Mapping[str, float]
    tunable: tuple[str, ...]


_PRESETS: dict[str, _Preset] = {
    # MnasNet, paper section 3: the two named settings fix the exponents; only the target moves.
    "mnas_soft": _Preset("weighted_product", {"alpha": SOFT_EXPONENT, "beta": SOFT_EXPONENT,
                                              "target_ms": MNAS_TARGET_MS}, ("target_ms",)),
    "mnas_hard": _Preset("weighted_product", {"alpha": HARD_ALPHA, "beta": HARD_BETA,
                                              "target_ms": MNAS_TARGET_MS}, ("target_ms",)),
    "mnas": _Preset("weighted_product", {"alpha": SOFT_EXPONENT, "beta": SOFT_EXPONENT,
                                         "target_ms": MNAS_TARGET_MS}, ("alpha", "beta", "target_ms")),
    # TuNAS: `mnas` is equation 2 with alpha = beta; `mnas_hard` caps the factor at 1; `abs` is additive.
    "tunas_mnas": _Preset("weighted_product", {"alpha": TUNAS_BETA, "beta": TUNAS_BETA,
                                               "target_ms": TUNAS_TARGET_MS}, ("beta", "target_ms")),
    "tunas_mnas_hard": _Preset("capped_product", {"beta": TUNAS_BETA, "target_ms": TUNAS_TARGET_MS},
                               ("beta", "target_ms")),
    "tunas_abs": _Preset("absolute", {"beta": TUNAS_BETA, "target_ms": TUNAS_TARGET_MS}, ("beta", "target_ms")),
    # ProxylessNAS: acc * (ref / lat) ** 0.1 == acc * (lat / ref) ** -0.1, i.e. equation 2 with alpha = beta = -0.1.
    "proxyless": _Preset("weighted_product", {"alpha": -PROXYLESS_EXPONENT, "beta": -PROXYLESS_EXPONENT,
                                              "target_ms": PROXYLESS_REF_MS}, ("target_ms",)),
    "accuracy": _Preset("accuracy", {}, ()),
}
REWARD_NAMES: tuple[str, ...] = tuple(_PRESETS)


def get_reward(name: str, **params: float) -> Reward:
    """Build the reward registered as ``name``, overriding its tunable parameters with ``params``.

    ``tunas_mnas`` takes ``beta`` for its single exponent (alpha follows it). Fixed parameters (the exponents of
    ``mnas_soft``/``mnas_hard``/``proxyless``) are refused rather than silently ignored, so a config cannot claim a
    setting the search did not use; use ``mnas`` for custom exponents.
    """
    if name not in _PRESETS:
        raise UserError(f"unknown reward {name!r}; known rewards: {', '.join(REWARD_NAMES)}")
    preset = _PRESETS[name]
    refused = set(params) - set(preset.tunable)
    if refused:
        allowed = ", ".join(preset.tunable) if preset.tunable else "none"
        raise UserError(
            f"reward {name!r} does not take parameter(s) {sorted(refused)} (it takes: {allowed}); "
            "use name 'mnas' with alpha, beta and target_ms for a custom weighted product"
        )
    values = {**preset.defaults, **params}
    if name == "tunas_mnas":
        values["alpha"] = values["beta"]
    return Reward(name=name, formula=preset.formula, **values)


def from_config(config: Mapping[str, Any]) -> Reward:
    """Build a reward from a config mapping such as ``{"name": "mnas_soft", "target_ms": 75}``."""
    if not isinstance(config, Mapping):
        raise UserError(f"a reward config must be a mapping like {{'name': 'mnas_soft'}}, got {type(config).__name__}")
    if "name" not in config:
        raise UserError(f"a reward config needs a 'name' key (one of {', '.join(REWARD_NAMES)}), got {dict(config)}")
    params = {key: value for key, value in config.items() if key != "name"}
    return get_reward(config["name"], **params)


def beta_for_tradeoff(latency_ratio: float, accuracy_gain: float) -> float:
    """The exponent that gives equal reward to (l, a) and (latency_ratio * l, (1 + accuracy_gain) * a).

    The paper's rule (section 3): if multiplying latency by ``r`` buys a relative accuracy gain ``g`` along the
    Pareto front, then ``a * (1 + g) * (r * l / T) ** beta = a * (l / T) ** beta``, so
    ``beta = -ln(1 + g) / ln(r)``; r = 2 and g = 0.05 give -0.0704, the paper's -0.07.
    """
    r = _check_number(latency_ratio, "latency_ratio")
    g = _check_number(accuracy_gain, "accuracy_gain")
    if r <= 0 or r == 1:
        raise UserError(f"latency_ratio must be positive and not 1 (e.g. 2 for 'doubling latency'), got {r!r}")
    if g <= -1:
        raise UserError(f"accuracy_gain is a relative gain and must be > -1 (e.g. 0.05 for 5%), got {g!r}")
    return -math.log1p(g) / math.log(r)


def _check_points(acc: ArrayLike, lat: ArrayLike) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Pareto inputs: two finite 1-D arrays of one length (any accuracy unit, e.g. percent, is fine)."""
    acc_a = _as_float_array(acc, "accuracy")
    lat_a = _as_float_array(lat, "latency")
    if acc_a.ndim != 1 or lat_a.ndim != 1 or acc_a.shape != lat_a.shape:
        raise UserError(
            f"accuracy and latency must be 1-D arrays of one length, got shapes {acc_a.shape} and {lat_a.shape}"
        )
    if not (np.isfinite(acc_a).all() and np.isfinite(lat_a).all()):
        raise UserError("accuracy and latency must be finite; remove infinite values before computing a Pareto front")
    return acc_a, lat_a


def pareto_front(acc: ArrayLike, lat: ArrayLike) -> NDArray[np.intp]:
    """Indices of the non-dominated models (maximise accuracy, minimise latency), ordered by increasing latency.

    A model is dominated when another is at least as accurate and at least as fast, and strictly better in one.
    Exact duplicates do not dominate each other, so all copies of a front point are returned; ties are ordered by
    latency, then accuracy (descending), then index, so the result is deterministic. O(n log n): one lexicographic
    sort of the distinct points and a running maximum of accuracy.
    """
    acc_a, lat_a = _check_points(acc, lat)
    if acc_a.size == 0:
        return np.empty(0, dtype=np.intp)
    # Distinct points sorted by latency ascending, then accuracy descending.
    points, inverse = np.unique(np.stack([lat_a, -acc_a], axis=1), axis=0, return_inverse=True)
    sorted_acc = -points[:, 1]
    best_before = np.concatenate([[-np.inf], np.maximum.accumulate(sorted_acc)[:-1]])
    # Among distinct points sorted this way, a point is non-dominated iff it beats every faster-or-equal one.
    on_front = sorted_acc > best_before
    members = np.flatnonzero(on_front[inverse.ravel()])
    order = np.lexsort((members, -acc_a[members], lat_a[members]))
    return members[order]


def hypervolume(acc: ArrayLike, lat: ArrayLike, ref_acc: float, ref_lat: float) -> float:
    """Area of the accuracy-latency region dominated by the models and dominating the reference point.

    The reference (``ref_acc``, ``ref_lat``) should be worse than every model of interest: lower accuracy, higher
    latency. Models that do not dominate it (accuracy <= ref_acc or latency >= ref_lat) add no area, as in the usual
    definition, so a fixed reference can compare fronts of different searches. Units are accuracy x milliseconds.
    """
    acc_a, lat_a = _check_points(acc, lat)
    ref_a = _check_number(ref_acc, "ref_acc")
    ref_l = _check_number(ref_lat, "ref_lat")
    front = pareto_front(acc_a, lat_a)
    keep = front[(acc_a[front] > ref_a) & (lat_a[front] < ref_l)]
    if keep.size == 0:
        return 0.0
    front_lat, front_acc = lat_a[keep], acc_a[keep]
    # Front sorted by latency has increasing accuracy; each point owns the strip up to the next point's latency.
    widths = np.diff(np.append(front_lat, ref_l))
    return float(np.sum(widths * (front_acc - ref_a)))
