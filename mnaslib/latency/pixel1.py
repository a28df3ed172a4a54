"""A Pixel-1 latency model fitted on the only Pixel-1 ground truth we have: the paper's published latencies.

We have no Pixel 1, but the paper and the official READMEs publish Pixel-1 latencies (single big core, TFLite,
batch 1) for about forty networks we can build exactly: MnasNet-A1 at 25 (multiplier, input size) points, B1,
mnasnet-small, the four Table 6 variants, MobileNetV1, NASNet-A and MobileNetV2 at nine scaling points. This module
fits the linear cost model of :mod:`mnaslib.latency.feature_model` on them, so a search can reward "Pixel-1
milliseconds" without a phone.

Features (per network, from its canonical executed-op list, :mod:`mnaslib.spaces.ops`): mult-adds per op type
(each runs at its own arithmetic efficiency: a depthwise conv does far less work per byte moved than a 1x1 conv,
which is why mult-adds alone mispredict, the paper's point), activation traffic, the number of ops (a fixed per-op
dispatch cost), and the options grouped cross-validation chose (:class:`~mnaslib.latency.feature_model.FeatureSpec`:
weight traffic, large-tensor traffic, per-output costs, channel tiles ...). Points are weighted by the paper status
of their latency: V and C 1.0, U 0.5 (only MnasNet-B1's 77 ms is U).

The reported accuracy is *grouped*: leave one family out (all MobileNetV2 points, all A1 points ...), one width
multiplier out, one input resolution out, with the feature choice nested inside (chosen without the held-out
group). Leave-one-out is kept beside it (``loo_ms`` of each point: the model refitted without that network), but it
measures interpolation along a slice, not extrapolation to a new width or resolution.

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
from typing import Any, Sequence

import numpy as np
import pandas as pd

from mnaslib import paper
from mnaslib.spaces.arch import Arch
from mnaslib.spaces.buildable import DEPLOYMENT, BuildOptions
from mnaslib.latency import network_features
from mnaslib.latency.feature_model import (FeatureSpec, canonical_ops, fit_nnls, grouped_mape, select_spec,
                                           validation_summary, worst_band)
from mnaslib.spaces.ops import Op, arch_ops, keras_ops
from mnaslib.spaces.zoo import as_arch, calibration_network

STATUS_WEIGHTS = {"V": 1.0, "C": 1.0, "U": 0.5}
DATA_DIR = Path(__file__).resolve().parents[2] / "data" / "latency"
DEFAULT_POINTS = DATA_DIR / "pixel1_points.csv"
DEFAULT_MODEL = DATA_DIR / "pixel1_model.json"
BUILDERS = ("arch", "keras-mobilenet", "keras-mobilenetv2", "keras-nasnetmobile")


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

    @property
    def family(self) -> str:
        """The group a leave-one-family-out fold holds out: the Keras application, the reference network, or
        ``a1-variants`` for Table 6's four (A1's skeleton with every block replaced)."""
        if self.builder != "arch":
            return self.builder
        return "a1-variants" if self.model.startswith("a1-") else self.model

    def ops(self) -> list[Op]:
        """Canonical ops: analytic for MnasNet-space networks, from the built model for Keras' applications."""
        if self.builder == "arch":
            return arch_ops(self.model, BuildOptions(depth_multiplier=self.multiplier, input_size=self.input_size))
        return canonical_ops(keras_ops(self.build()))

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
# The model
# ---------------------------------------------------------------------------------------------------------------
def point_schemes(points: Sequence[Any]) -> dict[str, np.ndarray]:
    """The groupings of grouped cross-validation: by family, by width multiplier, by input resolution."""
    return {"family": np.array([p.family for p in points]),
            "width": np.array([f"{p.multiplier:g}x" for p in points]),
            "resolution": np.array([f"{p.input_size}px" for p in points])}


@dataclass
class Pixel1Model:
    """Fitted coefficients, the feature spec grouped CV chose, and everything needed to judge them: leave-one-out
    and grouped (nested) errors, the range of networks they were measured on, every point, the fit date."""

    coefficients: np.ndarray
    spec: FeatureSpec = field(default_factory=FeatureSpec)
    validation: dict[str, Any] = field(default_factory=dict)
    fit_date: str = ""
    status_weights: dict[str, float] = field(default_factory=lambda: dict(STATUS_WEIGHTS))
    points: list[dict[str, Any]] = field(default_factory=list)
    device: str = "Pixel-1"

    def __post_init__(self) -> None:
        self.coefficients = np.asarray(self.coefficients, dtype=float)
        if self.coefficients.shape != (len(self.spec.names),):
            raise ValueError(f"expected {len(self.spec.names)} coefficients for features {self.spec.names}, got "
                             f"shape {self.coefficients.shape}")

    @property
    def features(self) -> tuple[str, ...]:
        return self.spec.names

    @property
    def loo_mape(self) -> float:
        return self.validation.get("loo_mape", float("nan"))

    @property
    def loo_max_error(self) -> float:
        return self.validation.get("loo_max_error", float("nan"))

    @property
    def grouped_mape(self) -> float:
        """Nested grouped-CV MAPE: families, widths and resolutions held out in turn, pooled."""
        return self.validation.get("grouped_mape", float("nan"))

    @property
    def measured_range(self) -> str:
        """The networks the grouped error was measured on, e.g. ``0.35-1.4x, 96-224 px, 42 networks``."""
        widths = [p["multiplier"] for p in self.points]
        sizes = [p["input_size"] for p in self.points]
        if not widths:
            return "no points"
        width = f"{min(widths):g}x" if min(widths) == max(widths) else f"{min(widths):g}-{max(widths):g}x"
        size = f"{min(sizes)} px" if min(sizes) == max(sizes) else f"{min(sizes)}-{max(sizes)} px"
        return f"{width}, {size}, {len(self.points)} networks"

    @property
    def label(self) -> str:
        return (f"{self.device} model, grouped-CV MAPE {100 * self.grouped_mape:.1f}% "
                f"(families, widths, resolutions held out; {self.measured_range})")

    def predict_features(self, features: np.ndarray) -> float:
        return float(features @ self.coefficients)

    def arch_features(self, arch: Arch | str, options: BuildOptions = DEPLOYMENT) -> np.ndarray:
        return network_features.arch_features(arch, self.spec, options)

    def model_features(self, model) -> np.ndarray:
        return network_features.model_features(model, self.spec)

    def predict_arch(self, arch: Arch | str, options: BuildOptions = DEPLOYMENT) -> float:
        """Predicted milliseconds of ``arch.build(options)``, without building it."""
        return float(np.dot(self.arch_features(arch, options), self.coefficients))

    def breakdown_ms(self, arch: Arch | str, options: BuildOptions = DEPLOYMENT) -> dict[str, float]:
        """Predicted milliseconds of the stem, of each block (``block1`` ...) and of the head; they sum to
        ``predict_arch`` because the model is linear in features that add up over layers."""
        parts = network_features.part_features(as_arch(arch), options, self.spec)
        names = ["stem", *(f"block{i}" for i in range(1, len(parts) - 1)), "head"]
        return {name: float(np.dot(features, self.coefficients)) for name, features in zip(names, parts)}

    def contributions(self, features: np.ndarray) -> dict[str, float]:
        """Milliseconds each feature contributes to a prediction (for explaining one)."""
        return {name: float(f * c) for name, f, c in zip(self.features, features, self.coefficients)}

    def to_json(self) -> dict[str, Any]:
        return {"description": f"{self.device} latency cost model: latency_ms = features @ coefficients "
                               "(mnaslib.latency.feature_model); regenerate with `python -m mnaslib.latency.pixel1`",
                "device": self.device, "fit_date": self.fit_date, "spec": {k: v for k, v in vars(self.spec).items()},
                "features": list(self.features),
                "coefficients": {n: float(c) for n, c in zip(self.features, self.coefficients)},
                "status_weights": self.status_weights, "validation": self.validation, "points": self.points}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "Pixel1Model":
        if "spec" not in data:
            raise ValueError("this latency model file predates grouped validation (no 'spec'); refit it with "
                             "`python -m mnaslib.latency.pixel1`")
        spec = FeatureSpec(**data["spec"])
        if tuple(data["features"]) != spec.names:
            raise ValueError(f"this model was fitted on features {tuple(data['features'])}, but the code computes "
                             f"{spec.names}; refit it")
        return cls(np.array([data["coefficients"][n] for n in spec.names]), spec, data["validation"],
                   data["fit_date"], data.get("status_weights", dict(STATUS_WEIGHTS)), data["points"],
                   data.get("device", "Pixel-1"))


def fit_pixel1_model(points_path: str | Path | None = None, out_path: str | Path | None = DEFAULT_MODEL,
                     points: Sequence[CalibrationPoint] | None = None) -> Pixel1Model:
    """Fit the Pixel-1 model on the published latencies and (unless ``out_path`` is None) write it as JSON.

    Builds the Keras applications among the points to read their ops (tens of seconds).
    """
    points = list(points) if points is not None else load_points(points_path)
    op_lists = [p.ops() for p in points]
    latency = np.array([p.latency_ms for p in points])
    weights = np.array([p.weight for p in points])
    model = fit_feature_model(op_lists, latency, weights, point_schemes(points))
    rows = [{"point": p.point, "builder": p.builder, "model": p.model, "family": p.family,
             "multiplier": p.multiplier, "input_size": p.input_size, "latency_ms": p.latency_ms,
             "status": p.status, "source": p.source, "weight": p.weight} for p in points]
    model.points = _with_predictions(rows, model, op_lists)
    model.status_weights = dict(STATUS_WEIGHTS)
    if out_path is not None:
        out = Path(out_path)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(model.to_json(), indent=1) + "\n")
        load_pixel1_model.cache_clear()
    return model


def fit_feature_model(op_lists: Sequence[list[Op]], latency: np.ndarray, weights: np.ndarray,
                      schemes: dict[str, np.ndarray], device: str = "Pixel-1") -> Pixel1Model:
    """Choose the feature spec by grouped CV, fit it on every point, and validate it (LOO, grouped, nested)."""
    if len(latency) < 4:
        raise ValueError(f"{len(latency)} measured networks cannot fit a latency model: measure at least 4 "
                         "(about 30 give a useful one)")
    spec = select_spec(op_lists, latency, weights, schemes)
    matrix = np.stack([spec.vector(ops) for ops in op_lists])
    validation = validation_summary(op_lists, latency, weights, schemes, spec)
    # The paper's point, measured on the same points and folds: latency proportional to total mult-adds.
    mult_adds = np.array([[sum(op.mult_adds for op in ops) / 1e6] for ops in op_lists])
    validation["mult_adds_only_grouped_mape"] = grouped_mape(mult_adds, latency, weights,
                                                             {n: g for n, g in schemes.items()
                                                              if len(np.unique(g)) >= 2})
    return Pixel1Model(fit_nnls(matrix, latency, weights), spec, validation, _dt.date.today().isoformat(),
                       device=device)


def _with_predictions(rows: list[dict[str, Any]], model: Pixel1Model, op_lists: Sequence[list[Op]]) -> list[dict]:
    validation = model.validation
    for i, (row, ops) in enumerate(zip(rows, op_lists)):
        features = model.spec.vector(ops)
        row.update(features=[float(v) for v in features], fit_ms=float(features @ model.coefficients),
                   loo_ms=validation["loo_predictions"][i],
                   loo_error=validation["loo_predictions"][i] / row["latency_ms"] - 1,
                   heldout_ms={name: p[i] for name, p in validation["nested_predictions"].items()})
    return rows


@functools.lru_cache(maxsize=8)
def load_pixel1_model(path: str | Path | None = None) -> Pixel1Model:
    """The fitted model stored in ``data/latency/pixel1_model.json`` (or ``path``)."""
    path = Path(path) if path is not None else DEFAULT_MODEL
    if not path.is_file():
        raise FileNotFoundError(f"no fitted Pixel-1 model at {path}; create it with `python -m mnaslib.latency.pixel1`"
                                " (or mnaslib.latency.pixel1.fit_pixel1_model())")
    return Pixel1Model.from_json(json.loads(path.read_text()))


def arch_features(arch: Arch | str, options: BuildOptions = DEPLOYMENT) -> np.ndarray:
    """The stored Pixel-1 model's features of ``arch.build(options)``, computed analytically (no model is built)."""
    return load_pixel1_model().arch_features(arch, options)


def model_features(model) -> np.ndarray:
    """The stored Pixel-1 model's features of any Keras model."""
    return load_pixel1_model().model_features(model)


def describe_validation(model: Pixel1Model) -> list[str]:
    """Lines that report a model's grouped and leave-one-out errors and each band's lean (benchmarks, CLI)."""
    v = model.validation
    lines = [f"{model.label}",
             f"  nested grouped CV (feature choice held out too): MAPE {100 * v['grouped_mape']:.1f}%, max "
             f"{100 * v['grouped_max_error']:.1f}%; leave-one-out MAPE {100 * v['loo_mape']:.1f}% (interpolation)"]
    for name, scheme in v["schemes"].items():
        named = {band: error for band, error in scheme["band_mean_error"].items() if " " not in band}
        bands = ", ".join(f"{band} {100 * error:+.1f}%" for band, error in named.items())
        others = [error for band, error in scheme["band_mean_error"].items() if band not in named]
        if others:  # architectures given as block strings, each a family of its own: one summary, not their specs
            summary = f"{len(others)} random architectures {100 * np.mean(others):+.1f}% on average"
            bands = f"{bands}, {summary}" if bands else summary
        lines.append(f"  leave one {name} out: MAPE {100 * scheme['mape']:.1f}%, max {100 * scheme['max_error']:.1f}%;"
                     f" mean error per held-out {name}: {bands}")
    band, error = worst_band(v)
    if band:
        lines.append(f"  worst width/resolution band: {band} {100 * error:+.1f}% mean error")
    lines.append(f"  features chosen by grouped CV: {model.spec.text}")
    return lines


def main(argv: Sequence[str] | None = None) -> None:
    """CLI: refit the Pixel-1 model from the points CSV and the paper tables, print its errors per point and group."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=Path, default=DEFAULT_POINTS, help="calibration points CSV")
    parser.add_argument("--out", type=Path, default=DEFAULT_MODEL, help="where to write the fitted model JSON")
    args = parser.parse_args(argv)
    model = fit_pixel1_model(args.points, args.out)
    table = pd.DataFrame(model.points)
    for name in model.validation["schemes"]:
        table[f"{name} out"] = [p["heldout_ms"][name] / p["latency_ms"] - 1 for p in model.points]
    print(table[["point", "status", "latency_ms", "loo_error", *(f"{n} out" for n in model.validation["schemes"])]]
          .to_string(index=False, float_format=lambda v: f"{v:+.3f}"))
    print({n: round(float(c), 5) for n, c in zip(model.features, model.coefficients)})
    print("\n".join(describe_validation(model)))
    print(f"latency proportional to mult-adds alone, same folds: grouped MAPE "
          f"{100 * model.validation['mult_adds_only_grouped_mape']:.1f}%; written to {args.out}")


if __name__ == "__main__":
    main()
