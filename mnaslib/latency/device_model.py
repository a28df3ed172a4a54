"""Latency models of a user's own device: fitted on networks measured on it, stored by name, used as a provider.

``mnas calibrate --device adb --name my-pixel7`` (:mod:`mnaslib.latency.device_calibration`) measures a seeded,
diverse set of networks on the phone, or ``--from-csv`` reads (architecture, measured ms) rows made elsewhere;
:func:`fit_device_model` fits the Pixel-1 model's feature model (:mod:`mnaslib.latency.feature_model`) on them,
with the feature choice and the error by grouped cross-validation, and saves it as ``<name>.json`` in
:func:`models_dir`. A profile selects it with ``latency: {provider: device-model, name: my-pixel7}``; every
prediction's label names the model and carries its grouped out-of-sample error.

Where models live: ``$MNAS_DEVICE_MODELS`` if set, else ``$XDG_CONFIG_HOME/mnaslib/device-models`` (default
``~/.config/mnaslib/device-models``): a user's measurements, not a cache to be wiped.
"""
from __future__ import annotations

import csv
import functools
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Sequence

import numpy as np

from mnaslib.spaces.arch import Arch
from mnaslib.spaces.buildable import DEPLOYMENT, BuildOptions, Buildable
from mnaslib.errors import UserError
from mnaslib.latency.base import LatencyProvider, LatencyResult
from mnaslib.latency.feature_model import canonical_ops
from mnaslib.spaces.ops import Op, arch_ops, keras_ops
from mnaslib.latency.pixel1 import Pixel1Model, fit_feature_model
from mnaslib.spaces.zoo import resolve, canonical_name, names
from mnaslib.latency.cost_model import _analytic, _feature_breakdown, _feature_prediction

NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
CSV_COLUMNS = ("architecture", "ms")


def models_dir(override: str | Path | None = None) -> Path:
    """Where named device models are stored (see the module docstring)."""
    if override is not None:
        return Path(override)
    if os.environ.get("MNAS_DEVICE_MODELS"):
        return Path(os.environ["MNAS_DEVICE_MODELS"])
    config = os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config"
    return Path(config) / "mnaslib" / "device-models"


def check_name(name: str) -> str:
    """A device model name is also a file name: letters, digits, ``.``, ``_`` and ``-``."""
    if not isinstance(name, str) or not NAME_PATTERN.fullmatch(name):
        raise UserError(f"device model name {name!r} is not usable: use 1-64 letters, digits, '.', '_' or '-', "
                        "starting with a letter or digit (e.g. my-pixel7)")
    return name


def model_path(name: str, directory: str | Path | None = None) -> Path:
    return models_dir(directory) / f"{check_name(name)}.json"


@dataclass(frozen=True)
class Measurement:
    """One network measured on the device: the architecture spec the zoo resolves (block strings, a reference or
    Keras network name), its width and input size, the measured milliseconds and the measurement's label."""

    architecture: str
    multiplier: float
    input_size: int
    ms: float
    provenance: str = ""

    @property
    def key(self) -> str:
        return f"{self.architecture}|{self.multiplier:g}|{self.input_size}"

    def network(self) -> Buildable:
        return resolve(self.architecture)

    def options(self) -> BuildOptions:
        return BuildOptions(depth_multiplier=self.multiplier, input_size=self.input_size)

    def ops(self) -> list[Op]:
        network = self.network()
        if isinstance(network, Arch):
            return arch_ops(network, self.options())
        return canonical_ops(keras_ops(network.build(self.options())))

    @property
    def family(self) -> str:
        """A named network (reference or Keras) is its family; an architecture given as block strings (a random one
        of a calibration) is a family of its own. Holding all random architectures out at once would leave a
        handful of references to fit, an error no user meets: a new network is one more random architecture."""
        return canonical_name(self.architecture) if canonical_name(self.architecture) in names() else self.architecture


def measurement_schemes(measurements: Sequence[Measurement]) -> dict[str, np.ndarray]:
    return {"family": np.array([m.family for m in measurements]),
            "width": np.array([f"{m.multiplier:g}x" for m in measurements]),
            "resolution": np.array([f"{m.input_size}px" for m in measurements])}


def fit_device_model(name: str, measurements: Sequence[Measurement], device: str = "",
                     directory: str | Path | None = None, save: bool = True) -> Pixel1Model:
    """Fit the feature model on ``measurements`` (grouped CV chooses its features and reports its error) and,
    with ``save``, store it as ``name`` in :func:`models_dir`."""
    check_name(name)
    measurements = list(measurements)
    if len(measurements) < 8:
        raise UserError(f"{len(measurements)} measured networks are too few for a device model: measure at least "
                        "8 (about 30 give a useful one; `mnas calibrate --count N`)")
    op_lists = [m.ops() for m in measurements]
    latency = np.array([m.ms for m in measurements])
    model = fit_feature_model(op_lists, latency, np.ones(len(latency)), measurement_schemes(measurements),
                              device=name)
    model.points = [{"point": m.key, "architecture": m.architecture, "family": m.family,
                     "multiplier": m.multiplier, "input_size": m.input_size, "latency_ms": m.ms,
                     "measured": m.provenance or device, "loo_ms": model.validation["loo_predictions"][i]}
                    for i, m in enumerate(measurements)]
    model.status_weights = {}
    if save:
        path = model_path(name, directory)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".json.tmp")
        tmp.write_text(json.dumps({**model.to_json(), "measured_on": device}, indent=1) + "\n")
        tmp.replace(path)
    return model


def load_device_model(name: str, directory: str | Path | None = None) -> Pixel1Model:
    path = model_path(name, directory)
    if not path.is_file():
        known = sorted(p.stem for p in path.parent.glob("*.json")) if path.parent.is_dir() else []
        raise UserError(f"no device model {name!r} in {path.parent} (known: {', '.join(known) or 'none'}); make it "
                        f"with `mnas calibrate --device adb --name {name}` or `mnas calibrate --from-csv FILE "
                        f"--name {name}`")
    return _load(str(path), path.stat().st_mtime_ns)


@functools.lru_cache(maxsize=16)
def _load(path: str, mtime_ns: int) -> Pixel1Model:
    """A model file read once per version (a search builds a provider per deployment option set)."""
    try:
        return Pixel1Model.from_json(json.loads(Path(path).read_text()))
    except (json.JSONDecodeError, KeyError, TypeError) as err:
        raise UserError(f"{path} is not a device model file ({err}); refit it with `mnas calibrate`") from None


def read_measurements_csv(path: str | Path) -> list[Measurement]:
    """Measurements from a CSV with columns ``architecture`` (a reference or Keras network name, or MnasNet block
    strings separated by spaces) and ``ms``, optionally ``multiplier`` (default 1) and ``input_size`` (224)."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"no CSV file {path}")
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        missing = [c for c in CSV_COLUMNS if c not in (reader.fieldnames or [])]
        if missing:
            raise UserError(f"{path}: missing column(s) {', '.join(missing)}; the header must name architecture and "
                            "ms (optional: multiplier, input_size)")
        rows = [_csv_row(path, number, row) for number, row in enumerate(reader, start=2)]
    if not rows:
        raise UserError(f"{path} has a header but no measurements")
    return rows


def _csv_row(path: Path, number: int, row: dict[str, str]) -> Measurement:
    where = f"{path}, line {number}"
    try:
        ms = float(row["ms"])
        multiplier = float(row.get("multiplier") or 1.0)
        size = int(row.get("input_size") or 224)
    except (TypeError, ValueError):
        raise UserError(f"{where}: ms, multiplier and input_size must be numbers, got {row.get('ms')!r}, "
                        f"{row.get('multiplier')!r}, {row.get('input_size')!r}") from None
    if not np.isfinite(ms) or ms <= 0:
        raise UserError(f"{where}: a measured latency must be a positive number of milliseconds, got {ms}")
    measurement = Measurement(" ".join((row.get("architecture") or "").split()), multiplier, size, ms,
                              f"CSV {path.name}")
    try:
        measurement.network()
        measurement.options()
    except ValueError as err:
        raise UserError(f"{where}: {err}") from None
    return measurement


@dataclass
class DeviceModelProvider(LatencyProvider):
    """Predicted latency (ms) on a user's device from its named model; an ``Arch`` is read analytically."""

    name: ClassVar[str] = "device-model"

    model_name: str = ""
    models_dir: str | Path | None = None
    depth_multiplier: float = 1.0
    input_size: int = 224
    num_classes: int = 1000

    def __post_init__(self) -> None:
        self.model = load_device_model(self.model_name, self.models_dir)

    def latency_of(self, network: Buildable, options: BuildOptions) -> LatencyResult:
        return _analytic(self, network, options)

    def latency(self, model_or_arch: Any) -> LatencyResult:
        return _feature_prediction(self, self.model, model_or_arch)

    def breakdown_ms(self, network: Buildable, options: BuildOptions = DEPLOYMENT) -> dict[str, float] | None:
        """The device model's milliseconds per part of a MnasNet-space ``Arch``; None for any other network."""
        return _feature_breakdown(self.model, network, options)


def device_model_provider(name: str, models_dir: str | Path | None = None, depth_multiplier: float = 1.0,
                          input_size: int = 224, num_classes: int = 1000) -> DeviceModelProvider:
    """``get_provider('device-model', name='my-pixel7')``: a profile's ``latency: {provider: device-model, name:
    my-pixel7}`` (``name`` is the model's; the provider's own name is ``device-model``)."""
    return DeviceModelProvider(name, models_dir, depth_multiplier, input_size, num_classes)
