"""A Pixel-1 latency model fitted on the only Pixel-1 ground truth we have: the paper's published latencies.

We have no Pixel 1, but the paper and the official READMEs publish Pixel-1 latencies (single big core, TFLite,
batch 1) for about forty networks we can build exactly: MnasNet-A1 at 25 (multiplier, input size) points, B1,
mnasnet-small, the four Table 6 variants, MobileNetV1, NASNet-A and MobileNetV2 at nine scaling points. This module
fits a linear cost model on them, so a search can reward "Pixel-1 milliseconds" without a phone.

Features (per network, from its executed-op list, :mod:`mnaslib.latency.ops`):

* mult-adds of 1x1 convolutions, of kxk convolutions, of depthwise convolutions and of dense layers (millions):
  each op type runs at its own arithmetic efficiency on a phone CPU (a depthwise conv does far less work per byte
  moved than a 1x1 conv, which is why mult-adds alone mispredict, the paper's point);
* activation traffic: elements read plus written by every op (millions), the memory-bound part;
* the number of executed ops, a fixed per-op dispatch overhead (NASNet's many small ops).

The model is ``latency_ms = features @ coefficients`` with non-negative coefficients (``scipy.optimize.nnls``: a
negative cost per mult-add would be physically meaningless and extrapolates badly), fitted on *relative* error
(each row divided by its latency), because the goal is a small percentage error on 5 ms and 180 ms networks alike.
Points are weighted by the paper status of their latency: V and C 1.0, U 0.5 (only MnasNet-B1's 77 ms is U).
The reported accuracy is leave-one-out: each point predicted by a model fitted on all the others.

Which published value is used where a model has two (``data/latency/pixel1_points.csv``, column ``used``):
the paper's own tables first, because they are the MnasNet authors' measurements in the paper's setup, unless the
value is uncertain (U); the official README grid otherwise. So MobileNetV2 1.4x is 143 ms (Table 1) not 138 ms
(README), MobileNetV2 1.0x is 73.8 ms (README; Table 1's 75 ms is U), MobileNetV2 0.35x and MnasNet-A1 0.35x are
21.4 and 22.8 ms (Table 4) not 19.7 and 22 ms (README).
"""
from __future__ import annotations

import argparse
import datetime as _dt
import functools
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np
import pandas as pd
from scipy.optimize import nnls

from mnaslib import paper
from mnaslib.latency.ops import (LayerKey, Op, block_layers, head_layer, keras_ops, layer_ops,
                                 stem_layer)
from mnaslib.buildable import DEPLOYMENT, BuildOptions
from mnaslib.zoo import as_arch, calibration_network
from mnaslib.arch import Arch, BlockSpec

FEATURES = ("mult_adds_conv1x1_m", "mult_adds_convkxk_m", "mult_adds_depthwise_m", "mult_adds_dense_m",
            "activation_traffic_m", "ops")
STATUS_WEIGHTS = {"V": 1.0, "C": 1.0, "U": 0.5}
DATA_DIR = Path(__file__).resolve().parents[2] / "data" / "latency"
DEFAULT_POINTS = DATA_DIR / "pixel1_points.csv"
DEFAULT_MODEL = DATA_DIR / "pixel1_model.json"
BUILDERS = ("arch", "keras-mobilenet", "keras-mobilenetv2", "keras-nasnetmobile")
_MACS_INDEX = {kind: FEATURES.index(f"mult_adds_{kind}_m") for kind in ("conv1x1", "convkxk", "depthwise", "dense")}
_TRAFFIC_INDEX, _OPS_INDEX = FEATURES.index("activation_traffic_m"), FEATURES.index("ops")


# ---------------------------------------------------------------------------------------------------------------
# Features
# ---------------------------------------------------------------------------------------------------------------
def ops_features(ops: Iterable[Op]) -> np.ndarray:
    """The feature vector (``FEATURES`` order) of a list of executed ops."""
    values = [0.0] * len(FEATURES)
    for op in ops:
        index = _MACS_INDEX.get(op.kind)
        if index is not None:
            values[index] += op.mult_adds / 1e6
        values[_TRAFFIC_INDEX] += (op.in_elems + op.out_elems) / 1e6
        values[_OPS_INDEX] += 1
    return np.array(values)


def model_features(model) -> np.ndarray:
    """Features of any Keras model (MnasNet builds, Keras' MobileNet/MobileNetV2/NASNetMobile ...)."""
    return ops_features(keras_ops(model))


@functools.lru_cache(maxsize=65536)
def _layer_features(key: LayerKey) -> tuple[float, ...]:
    return tuple(ops_features(layer_ops(key)))


@functools.lru_cache(maxsize=65536)
def _block_features(spec: BlockSpec, in_channels: int, resolution: int, depth_multiplier: float,
                    se_gate: str) -> tuple[tuple[float, ...], LayerKey]:
    """A block's summed features and its last layer (for chaining), cached per block in context."""
    layers = block_layers(spec, in_channels, resolution, depth_multiplier, se_gate)
    return tuple(map(math.fsum, zip(*map(_layer_features, layers)))), layers[-1]


def _part_features(arch: Arch, options: BuildOptions) -> list[tuple[float, ...]]:
    """Features of the stem, of each block and of the head: the same walk as
    :func:`mnaslib.latency.ops.arch_layers`, from cached per-block features."""
    last = stem_layer(arch, options)
    parts = [_layer_features(last)]
    for spec in arch.blocks:
        features, last = _block_features(spec, last.out_channels, last.out_resolution, options.depth_multiplier,
                                         arch.se_gate)
        parts.append(features)
    parts.append(_layer_features(head_layer(arch, last, options.num_classes)))
    return parts


@functools.lru_cache(maxsize=65536)
def _arch_features(arch: Arch, options: BuildOptions) -> tuple[float, ...]:
    return tuple(map(math.fsum, zip(*_part_features(arch, options))))


def arch_features(arch: Arch | str, options: BuildOptions = DEPLOYMENT) -> np.ndarray:
    """Features of ``arch.build(options)`` computed analytically (no model is built); cached per layer and per
    architecture, so a search pays tens of microseconds per new network and less for a repeated one."""
    return np.array(_arch_features(as_arch(arch), options))


# ---------------------------------------------------------------------------------------------------------------
# Calibration points
# ---------------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class CalibrationPoint:
    """A network we can build and its published Pixel-1 latency with the paper status of that number."""

    point: str
    builder: str
    model: str
    multiplier: float
    input_size: int
    latency_ms: float
    status: str
    source: str

    @property
    def weight(self) -> float:
        return STATUS_WEIGHTS[self.status]

    def features(self) -> np.ndarray:
        """Analytic features for MnasNet-space networks, Keras-profile features for Keras' own applications."""
        if self.builder == "arch":
            return arch_features(self.model, BuildOptions(depth_multiplier=self.multiplier, input_size=self.input_size))
        return model_features(self.build())

    def build(self):
        """The Keras model this point's latency belongs to (untrained; latency does not depend on weights)."""
        # keras.applications.MobileNetV2 follows the official network, including the 1792-wide head above 1.0x.
        if self.builder in ("keras-mobilenet", "keras-nasnetmobile") and self.multiplier != 1.0:
            raise ValueError(f"point {self.point!r}: builder {self.builder} only builds multiplier 1.0")
        options = BuildOptions(depth_multiplier=self.multiplier, input_size=self.input_size)
        return calibration_network(self.builder, self.model).build(options)


def load_points(path: str | Path | None = None) -> list[CalibrationPoint]:
    """The calibration points marked ``used`` in the points CSV, with latencies read from the paper tables
    (``mnaslib.paper``), so no published number is retyped here."""
    path = Path(path) if path is not None else DEFAULT_POINTS
    table = pd.read_csv(path, dtype={"model": str}, keep_default_na=False)
    required = {"point", "builder", "model", "multiplier", "input_size", "paper_table", "paper_row", "used"}
    missing = required - set(table.columns)
    if missing:
        raise ValueError(f"{path}: missing columns {sorted(missing)}")
    table = table[table["used"].astype(int) == 1]
    duplicated = table["point"][table["point"].duplicated()]
    if len(duplicated):
        raise ValueError(f"{path}: points used more than once (choose one published value each): "
                         f"{sorted(set(duplicated))}")
    points, tables = [], {}
    for row in table.itertuples(index=False):
        if row.builder not in BUILDERS:
            raise ValueError(f"{path}: point {row.point!r} has unknown builder {row.builder!r}; known: {BUILDERS}")
        if row.paper_table not in tables:
            tables[row.paper_table] = paper.load_table(row.paper_table)
        source = tables[row.paper_table]
        if row.paper_row not in source.index:
            raise ValueError(f"{path}: point {row.point!r}: paper table {row.paper_table!r} has no row "
                             f"{row.paper_row!r}")
        latency = float(source.at[row.paper_row, "latency_ms"])
        if math.isnan(latency):
            raise ValueError(f"{path}: point {row.point!r}: {row.paper_table}/{row.paper_row} has no latency")
        points.append(CalibrationPoint(row.point, row.builder, row.model, float(row.multiplier), int(row.input_size),
                                       latency, str(source.at[row.paper_row, "latency_ms_status"]),
                                       f"{row.paper_table}: {row.paper_row}"))
    return points


# ---------------------------------------------------------------------------------------------------------------
# Fit
# ---------------------------------------------------------------------------------------------------------------
def _fit(features: np.ndarray, latency: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Non-negative least squares on weighted relative errors."""
    scale = np.sqrt(weights) / latency
    coefficients, _ = nnls(features * scale[:, None], latency * scale)
    return coefficients


def leave_one_out(features: np.ndarray, latency: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Each point's prediction by the model fitted on all the other points."""
    predictions = np.empty(len(latency))
    for i in range(len(latency)):
        keep = np.arange(len(latency)) != i
        predictions[i] = features[i] @ _fit(features[keep], latency[keep], weights[keep])
    return predictions


@dataclass
class Pixel1Model:
    """Fitted coefficients plus everything needed to judge them: the points, their LOO errors, the fit date."""

    coefficients: np.ndarray
    features: tuple[str, ...] = FEATURES
    loo_mape: float = float("nan")
    loo_max_error: float = float("nan")
    loo_rms_error: float = float("nan")
    mult_adds_only_loo_mape: float = float("nan")
    fit_date: str = ""
    status_weights: dict[str, float] = field(default_factory=lambda: dict(STATUS_WEIGHTS))
    points: list[dict[str, Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.coefficients = np.asarray(self.coefficients, dtype=float)
        if tuple(self.features) != FEATURES:
            raise ValueError(f"this Pixel-1 model was fitted on features {tuple(self.features)}, but the code "
                             f"computes {FEATURES}; refit with fit_pixel1_model()")
        if self.coefficients.shape != (len(FEATURES),):
            raise ValueError(f"expected {len(FEATURES)} coefficients, got shape {self.coefficients.shape}")

    @property
    def label(self) -> str:
        return f"Pixel-1 model, LOO MAPE {100 * self.loo_mape:.1f}%"

    def predict_features(self, features: np.ndarray) -> float:
        return float(features @ self.coefficients)

    def predict_arch(self, arch: Arch | str, options: BuildOptions = DEPLOYMENT) -> float:
        """Predicted Pixel-1 milliseconds of ``arch.build(options)``, without building it."""
        return float(np.dot(_arch_features(as_arch(arch), options), self.coefficients))

    def breakdown_ms(self, arch: Arch | str, options: BuildOptions = DEPLOYMENT) -> dict[str, float]:
        """Predicted milliseconds of the stem, of each block (``block1`` ...) and of the head; they sum to
        ``predict_arch`` because the model is linear in features that add up over layers."""
        parts = _part_features(as_arch(arch), options)
        names = ["stem", *(f"block{i}" for i in range(1, len(parts) - 1)), "head"]
        return {name: float(np.dot(features, self.coefficients)) for name, features in zip(names, parts)}

    def contributions(self, features: np.ndarray) -> dict[str, float]:
        """Milliseconds each feature contributes to a prediction (for explaining one)."""
        return {name: float(f * c) for name, f, c in zip(FEATURES, features, self.coefficients)}

    def to_json(self) -> dict[str, Any]:
        return {"description": "Pixel-1 latency cost model: latency_ms = features @ coefficients "
                               "(mnaslib.latency.pixel1); regenerate with `python -m mnaslib.latency.pixel1`",
                "fit_date": self.fit_date, "features": list(self.features),
                "coefficients": {n: float(c) for n, c in zip(self.features, self.coefficients)},
                "status_weights": self.status_weights, "loo_mape": self.loo_mape,
                "loo_max_error": self.loo_max_error, "loo_rms_error": self.loo_rms_error,
                "mult_adds_only_loo_mape": self.mult_adds_only_loo_mape, "points": self.points}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "Pixel1Model":
        features = tuple(data["features"])
        return cls(np.array([data["coefficients"][n] for n in features]), features, data["loo_mape"],
                   data["loo_max_error"], data["loo_rms_error"], data["mult_adds_only_loo_mape"], data["fit_date"],
                   data["status_weights"], data["points"])


def fit_pixel1_model(points_path: str | Path | None = None, out_path: str | Path | None = DEFAULT_MODEL,
                     points: Sequence[CalibrationPoint] | None = None) -> Pixel1Model:
    """Fit the Pixel-1 model on the published latencies and (unless ``out_path`` is None) write it as JSON.

    Builds the Keras applications among the points to profile them (about 20 s on a 2-core machine).
    """
    points = list(points) if points is not None else load_points(points_path)
    if len(points) <= len(FEATURES):
        raise ValueError(f"{len(points)} calibration points cannot fit {len(FEATURES)} coefficients")
    features = np.stack([p.features() for p in points])
    latency = np.array([p.latency_ms for p in points])
    weights = np.array([p.weight for p in points])
    coefficients = _fit(features, latency, weights)
    loo = leave_one_out(features, latency, weights)
    errors = (loo - latency) / latency
    # The paper's point, measured on the same points: latency proportional to total mult-adds, fitted the same way.
    mult_adds = features[:, [FEATURES.index(n) for n in FEATURES if n.startswith("mult_adds")]].sum(axis=1)
    mult_adds_only = leave_one_out(mult_adds[:, None], latency, weights)
    rows = [{"point": p.point, "builder": p.builder, "model": p.model, "multiplier": p.multiplier,
             "input_size": p.input_size, "latency_ms": p.latency_ms, "status": p.status, "source": p.source,
             "weight": p.weight, "features": [float(v) for v in f], "fit_ms": float(f @ coefficients),
             "loo_ms": float(pred), "loo_error": float(err)}
            for p, f, pred, err in zip(points, features, loo, errors)]
    model = Pixel1Model(coefficients, FEATURES, float(np.mean(np.abs(errors))), float(np.max(np.abs(errors))),
                        float(np.sqrt(np.mean(errors ** 2))),
                        float(np.mean(np.abs(mult_adds_only - latency) / latency)), _dt.date.today().isoformat(),
                        dict(STATUS_WEIGHTS), rows)
    if out_path is not None:
        out = Path(out_path)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(model.to_json(), indent=1) + "\n")
        load_pixel1_model.cache_clear()
    return model


@functools.lru_cache(maxsize=8)
def load_pixel1_model(path: str | Path | None = None) -> Pixel1Model:
    """The fitted model stored in ``data/latency/pixel1_model.json`` (or ``path``)."""
    path = Path(path) if path is not None else DEFAULT_MODEL
    if not path.is_file():
        raise FileNotFoundError(f"no fitted Pixel-1 model at {path}; create it with `python -m mnaslib.latency.pixel1`"
                                " (or mnaslib.latency.pixel1.fit_pixel1_model())")
    return Pixel1Model.from_json(json.loads(path.read_text()))


def main(argv: Sequence[str] | None = None) -> None:
    """CLI: refit the Pixel-1 model from the points CSV and the paper tables, print the per-point LOO errors."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=Path, default=DEFAULT_POINTS, help="calibration points CSV")
    parser.add_argument("--out", type=Path, default=DEFAULT_MODEL, help="where to write the fitted model JSON")
    args = parser.parse_args(argv)
    model = fit_pixel1_model(args.points, args.out)
    print(pd.DataFrame(model.points)[["point", "status", "latency_ms", "loo_ms", "loo_error"]]
          .to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    print({n: round(float(c), 5) for n, c in zip(FEATURES, model.coefficients)})
    print(f"{model.label}; max LOO error {100 * model.loo_max_error:.1f}%; latency proportional to mult-adds alone: "
          f"LOO MAPE {100 * model.mult_adds_only_loo_mape:.1f}%; written to {args.out}")


if __name__ == "__main__":
    main()
