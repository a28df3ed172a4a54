"""An ImageNet top-1 surrogate for any network of Accel-NASBench's space, with its error measured.

The benchmark trained 5,125 of the space's 1e11 networks; a search samples anywhere. A scikit-learn gradient-boosting
regressor of ``val_top1`` on the network's decisions fills the gap, and every prediction carries the error of that
very model on networks it never saw: the benchmark's networks are split once, seeded, 80/20 (the 13 networks trained
twice stay on one side of the split), the model is fitted on the 80% and measured on the 20% (Kendall tau, Spearman,
RMSE in top-1 points). :func:`cross_validate` measures the same settings by 10-fold cross-validation, which
``benchmarks/accel_surrogate.py`` prints beside the authors' own gradient-boosting surrogate (held-out Kendall
0.917 in their paper).

Features (``SurrogateSettings.features``):

* ``ordinal``: the 28 decision values themselves (expansion 1/4/6, kernel 3/5, layers, SE 0/1), which trees split
  on directly. The default, because it ranks best held out and cross-validated (``benchmarks/accel_surrogate.py
  --compare``: Kendall 0.919 and 0.923, against 0.918 and 0.921 for ``onehot`` and 0.914 and 0.916 for
  ``ordinal+derived``, whose held-out RMSE is a little lower);
* ``onehot``: one indicator per choice of each decision (71 columns);
* ``ordinal+derived``: ``ordinal`` plus the network's trainable parameters, mult-adds at 224x224 and depth
  (computed from the decoded ``Arch``), which the trees would otherwise have to assemble from the decisions.

The regressor's settings (1,500 trees of depth 3, learning rate 0.03, subsample 0.5) came from a small grid of
depths, rates and subsampling on the same split; every point of it ranked within 0.005 of the others. A fit takes
seconds of CPU, a 10-fold cross-validation ten times that (``docs/architecture.md``, "Measured costs").
The fitted model is cached under the user cache directory (``$MNAS_CACHE_DIR/benchmarks/accel-nasbench``) keyed by
the archive's sha256, the scikit-learn version and the settings, as plain arrays (``TreeEnsemble``: each tree's
split features, thresholds, children and leaf values, in an ``.npz`` read with ``allow_pickle=False``): a pickle
would run whatever code a planted cache file holds. Predictions always come from those arrays, fresh fit or cache,
so a search gives the same numbers either way; a cache file that is not what this module writes is fitted again.
"""
from __future__ import annotations

import hashlib
import io
import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import sklearn
from scipy.stats import kendalltau, spearmanr
from sklearn.ensemble import GradientBoostingRegressor
from sklearn.model_selection import GroupKFold, GroupShuffleSplit

from mnaslib.labels import Provenance
from mnaslib.spaces.ops import arch_ops, arch_params
from mnaslib.spaces.accel import AccelSpace
from mnaslib.tabular.files import write_atomically

FEATURE_SETS = ("ordinal", "onehot", "ordinal+derived")
TARGET = "val_top1"


@dataclass(frozen=True)
class SurrogateSettings:
    """What decides a fitted surrogate: features, the regressor's hyper-parameters, the held-out split."""

    features: str = "ordinal"
    n_estimators: int = 1500
    max_depth: int = 3
    learning_rate: float = 0.03
    subsample: float = 0.5
    test_fraction: float = 0.2
    seed: int = 0

    def __post_init__(self) -> None:
        if self.features not in FEATURE_SETS:
            raise ValueError(f"unknown surrogate features {self.features!r}; expected one of {', '.join(FEATURE_SETS)}")
        if not 0.0 < self.test_fraction < 1.0:
            raise ValueError(f"test_fraction must be in (0, 1), got {self.test_fraction}")
        if self.n_estimators < 1 or self.max_depth < 1 or not 0.0 < self.learning_rate <= 1.0 or \
                not 0.0 < self.subsample <= 1.0:
            raise ValueError(f"bad gradient-boosting settings {asdict(self)}: n_estimators and max_depth >= 1, "
                             "learning_rate and subsample in (0, 1]")

    def regressor(self) -> GradientBoostingRegressor:
        return GradientBoostingRegressor(n_estimators=self.n_estimators, max_depth=self.max_depth,
                                         learning_rate=self.learning_rate, subsample=self.subsample,
                                         random_state=self.seed)

    def cache_key(self, data_sha256: str) -> str:
        """A digest of the settings, the data and the scikit-learn version: what a cached model must match."""
        text = json.dumps({"settings": asdict(self), "data": data_sha256, "sklearn": sklearn.__version__},
                          sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:16]


def features(tokens: np.ndarray, kind: str, space: AccelSpace | None = None) -> np.ndarray:
    """The feature matrix of ``tokens`` (one row of 28 tokens per network) for feature set ``kind``."""
    space = space or AccelSpace()
    tokens = np.asarray(tokens, dtype=int).reshape(-1, len(space.decisions))
    decisions = space.decisions
    ordinal = np.column_stack([np.asarray(d.choices, dtype=float)[tokens[:, j]] for j, d in enumerate(decisions)])
    if kind == "ordinal":
        return ordinal
    if kind == "onehot":
        return np.column_stack([tokens[:, j:j + 1] == np.arange(d.size) for j, d in enumerate(decisions)]
                               ).astype(float)
    if kind == "ordinal+derived":
        archs = [space.decode(list(row)) for row in tokens]
        derived = [(arch_params(a) / 1e6, sum(op.mult_adds for op in arch_ops(a)) / 1e6, a.num_layers)
                   for a in archs]
        return np.hstack([ordinal, np.array(derived, dtype=float).reshape(-1, 3)])
    raise ValueError(f"unknown surrogate features {kind!r}; expected one of {', '.join(FEATURE_SETS)}")


@dataclass(frozen=True)
class TreeEnsemble:
    """A fitted ``GradientBoostingRegressor`` (squared error) as arrays, with the same predictions: the initial
    constant plus ``learning_rate`` times each tree's leaf value, summed in tree order as scikit-learn does, each tree
    walked on float32 features as scikit-learn's trees compare them. Arrays are ``(trees, nodes)``, padded."""

    init: float
    learning_rate: float
    feature: np.ndarray
    threshold: np.ndarray
    left: np.ndarray
    right: np.ndarray
    value: np.ndarray

    ARRAYS = ("feature", "threshold", "left", "right", "value")

    @classmethod
    def from_sklearn(cls, model: GradientBoostingRegressor) -> "TreeEnsemble":
        trees = [stage[0].tree_ for stage in model.estimators_]
        width = max(tree.node_count for tree in trees)

        def padded(name: str, fill: float, dtype: type) -> np.ndarray:
            out = np.full((len(trees), width), fill, dtype=dtype)
            for i, tree in enumerate(trees):
                column = tree.value[:, 0, 0] if name == "value" else getattr(tree, name)
                out[i, :tree.node_count] = column
            return out

        return cls(float(model.init_.constant_.ravel()[0]), float(model.learning_rate),
                   padded("feature", 0, np.int64), padded("threshold", 0.0, np.float64),
                   padded("children_left", -1, np.int64), padded("children_right", -1, np.int64),
                   padded("value", 0.0, np.float64))

    def predict(self, X: np.ndarray) -> np.ndarray:
        X = np.asarray(X, dtype=np.float32)
        rows, trees = np.arange(len(X))[:, None], np.arange(self.feature.shape[0])[None, :]
        nodes = np.zeros((len(X), self.feature.shape[0]), dtype=np.int64)
        for _ in range(self.feature.shape[1]):
            leaf = self.left[trees, nodes] < 0
            if leaf.all():
                break
            left = X[rows, np.maximum(self.feature[trees, nodes], 0)] <= self.threshold[trees, nodes]
            nodes = np.where(leaf, nodes, np.where(left, self.left[trees, nodes], self.right[trees, nodes]))
        leaves = self.value[trees, nodes]
        raw = np.full(len(X), self.init)
        for column in leaves.T:
            raw += self.learning_rate * column
        return raw

    def check(self) -> None:
        """Refuse arrays that are not a well-formed ensemble (a damaged or foreign cache file)."""
        shapes = {getattr(self, name).shape for name in self.ARRAYS}
        if len(shapes) != 1 or len(shapes.pop()) != 2 or not np.isfinite(self.value).all():
            raise ValueError("the cached tree arrays do not form an ensemble")
        nodes = self.feature.shape[1]
        for name in ("left", "right"):
            children = getattr(self, name)
            if children.min() < -1 or children.max() >= nodes:
                raise ValueError("the cached trees point outside themselves")


def rank_metrics(predicted: np.ndarray, actual: np.ndarray) -> dict[str, float]:
    """Kendall tau, Spearman rho and RMSE (top-1 points) of predictions against recorded accuracies."""
    predicted, actual = np.asarray(predicted, float), np.asarray(actual, float)
    return {"kendall": float(kendalltau(predicted, actual).statistic),
            "spearman": float(spearmanr(predicted, actual).statistic),
            "rmse": float(np.sqrt(np.mean((predicted - actual) ** 2))), "n": int(len(actual))}


def network_groups(tokens: np.ndarray) -> np.ndarray:
    """One group per distinct network, so a network trained twice never sits on both sides of a split."""
    return np.unique(tokens, axis=0, return_inverse=True)[1].ravel()


@dataclass
class AccelSurrogate:
    """A fitted surrogate, its settings and its held-out error (the numbers its label states)."""

    model: TreeEnsemble
    settings: SurrogateSettings
    held_out: dict[str, float]
    n_train: int
    n_total: int
    fit_cpu_seconds: float
    sklearn_version: str = field(default=sklearn.__version__)

    @property
    def provenance(self) -> Provenance:
        """``surrogate (gradient boosting fitted on 4,110 of ...; held-out Kendall 0.92, RMSE 0.44 points)``."""
        return Provenance("surrogate", f"gradient boosting fitted on {self.n_train:,} of Accel-NASBench's "
                                       f"{self.n_total:,} ImageNet 16-epoch trainings; held-out Kendall "
                                       f"{self.held_out['kendall']:.2f}, RMSE {self.held_out['rmse']:.2f} points")

    def predict(self, tokens: np.ndarray) -> np.ndarray:
        """Predicted top-1 (percent, clipped to [0, 100]) of each row of tokens."""
        return np.clip(self.model.predict(features(tokens, self.settings.features)), 0.0, 100.0)


def table_tokens(table: pd.DataFrame, space: AccelSpace | None = None) -> np.ndarray:
    """The (rows, 28) token matrix of a parsed results table (``accel_nasbench.parse_archive``)."""
    space = space or AccelSpace()
    columns = []
    for decision in space.decisions:
        lookup = {value: index for index, value in enumerate(decision.choices)}
        values = table[decision.name].map(lambda v: lookup.get(bool(v) if decision.name.endswith("_se") else int(v)))
        if values.isna().any():
            raise ValueError(f"column {decision.name} holds values outside {decision.choices}")
        columns.append(values.to_numpy(int))
    return np.column_stack(columns)


def fit_surrogate(table: pd.DataFrame, settings: SurrogateSettings = SurrogateSettings()) -> AccelSurrogate:
    """Fit on the seeded training split and measure on the held-out split (module docstring)."""
    tokens, target = table_tokens(table), table[TARGET].to_numpy(float)
    split = GroupShuffleSplit(n_splits=1, test_size=settings.test_fraction, random_state=settings.seed)
    train, test = next(split.split(tokens, target, network_groups(tokens)))
    start = time.process_time()
    model = settings.regressor().fit(features(tokens[train], settings.features), target[train])
    seconds = time.process_time() - start
    fitted = AccelSurrogate(TreeEnsemble.from_sklearn(model), settings, {}, len(train), len(table), seconds)
    fitted.held_out = rank_metrics(fitted.predict(tokens[test]), target[test])
    return fitted


def cross_validate(table: pd.DataFrame, settings: SurrogateSettings = SurrogateSettings(),
                   folds: int = 10) -> pd.DataFrame:
    """``folds``-fold cross-validation of ``settings`` on every network (grouped by network, seeded): one row of
    ``rank_metrics`` per fold."""
    if folds < 2:
        raise ValueError(f"cross-validation needs at least 2 folds, got {folds}")
    tokens, target = table_tokens(table), table[TARGET].to_numpy(float)
    X = features(tokens, settings.features)
    rows = []
    for train, test in GroupKFold(n_splits=folds, shuffle=True, random_state=settings.seed).split(
            X, target, network_groups(tokens)):
        model = settings.regressor().fit(X[train], target[train])
        rows.append(rank_metrics(np.clip(model.predict(X[test]), 0.0, 100.0), target[test]))
    return pd.DataFrame(rows)


def load_or_fit(table: pd.DataFrame, data_sha256: str, directory: Path,
                settings: SurrogateSettings = SurrogateSettings()) -> AccelSurrogate:
    """The surrogate cached in ``directory`` for this data, scikit-learn version and settings, fitted (and cached)
    on first use; a cache file that cannot be read, or that holds a surrogate of anything else, is fitted again and
    replaced."""
    path = Path(directory) / f"surrogate-{settings.cache_key(data_sha256)}.npz"
    if path.is_file() and not path.is_symlink():
        try:
            cached = _read_cache(path)
            if cached.settings == settings and cached.sklearn_version == sklearn.__version__ and \
                    cached.n_total == len(table):
                return cached
        except (OSError, ValueError, KeyError, TypeError, EOFError):
            pass  # fitted again below
    fitted = fit_surrogate(table, settings)
    write_atomically(path, lambda handle: handle.write(_cache_bytes(fitted)), binary=True)
    return fitted


def _cache_bytes(fitted: AccelSurrogate) -> bytes:
    meta = {"settings": asdict(fitted.settings), "held_out": fitted.held_out, "n_train": fitted.n_train,
            "n_total": fitted.n_total, "fit_cpu_seconds": fitted.fit_cpu_seconds,
            "sklearn_version": fitted.sklearn_version, "init": fitted.model.init,
            "learning_rate": fitted.model.learning_rate}
    buffer = io.BytesIO()
    np.savez(buffer, meta=np.array(json.dumps(meta)), **{name: getattr(fitted.model, name)
                                                          for name in TreeEnsemble.ARRAYS})
    return buffer.getvalue()


def _read_cache(path: Path) -> AccelSurrogate:
    """A cached surrogate: arrays and JSON only (``allow_pickle=False``), so the file cannot run code."""
    with np.load(path, allow_pickle=False) as archive:
        meta = json.loads(str(archive["meta"]))
        arrays = {name: archive[name] for name in TreeEnsemble.ARRAYS}
    model = TreeEnsemble(float(meta["init"]), float(meta["learning_rate"]), **arrays)
    model.check()
    return AccelSurrogate(model, SurrogateSettings(**meta["settings"]), dict(meta["held_out"]), int(meta["n_train"]),
                          int(meta["n_total"]), float(meta["fit_cpu_seconds"]), str(meta["sklearn_version"]))
