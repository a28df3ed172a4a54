"""Latency cost models as providers: ``flops``, ``host-model`` and ``pixel1-model``.

``get_provider('pixel1-model').latency(arch)`` works like the measuring providers. Each takes an ``Arch`` (or a
reference name / block strings) and describes the deployment network the
search cares about: ``build_model(arch, depth_multiplier=..., input_size=224, num_classes=1000)``; ``flops`` and
``pixel1-model`` also take any ``keras.Model``.

* ``flops``: mult-adds, the proxy the paper argues against (MobileNetV1 575M / 113 ms vs NASNet-A 564M / 183 ms).
  It is not a latency and says so: its result's ``unit`` is ``M mult-adds`` and its provenance says the same.
* ``host-model``: sum of per-layer latencies measured on this machine, calibrated on whole networks
  (:mod:`mnaslib.latency.layer_table`).
* ``pixel1-model``: a linear model fitted on the published Pixel-1 latencies (:mod:`mnaslib.latency.pixel1`);
* ``device-model``: the same model fitted on a user's own phone by ``mnas calibrate --device adb``
  (:mod:`mnaslib.latency.device_model`).

A prediction is deterministic, so a result's ``runs`` is 1 and its ``std_ms``/``cv`` are 0; how far to trust it is
in the provenance label (the model's held-out error) and in ``details``.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any, ClassVar

from mnaslib.spaces.buildable import DEPLOYMENT, BuildOptions, Buildable
from mnaslib.errors import UserError
from mnaslib.latency.base import LatencyProvider, LatencyResult
from mnaslib.latency.layer_table import HostLayerTable
from mnaslib.spaces.ops import arch_ops
from mnaslib.latency.pixel1 import Pixel1Model, load_pixel1_model
from mnaslib.spaces.zoo import as_arch
from mnaslib.labels import Provenance
from mnaslib.spaces.arch import Arch
from mnaslib.spaces.counting import summarize


def _is_keras_model(obj: Any) -> bool:
    import keras

    return isinstance(obj, keras.Model)


def _prediction(value_ms: float, provenance: Provenance, details: dict[str, Any]) -> LatencyResult:
    return LatencyResult(median_ms=value_ms, p90_ms=None, mean_ms=value_ms, std_ms=0.0, cv=0.0, runs=1,
                         provenance=provenance, details={"kind": "prediction", **details})


def _analytic(provider: LatencyProvider, network: Buildable, options: BuildOptions) -> LatencyResult:
    """A cost model's answer for ``network`` at ``options``: read off the architecture when it is a MnasNet-space
    ``Arch`` (microseconds, no build), else from the built Keras model."""
    if isinstance(network, Arch):
        wanted = {"depth_multiplier": options.depth_multiplier, "input_size": options.input_size,
                  "num_classes": options.num_classes}
        same = all(getattr(provider, key) == value for key, value in wanted.items())
        return (provider if same else replace(provider, **wanted)).latency(network)
    return provider.latency(network.build(options))


def _options(provider: LatencyProvider) -> BuildOptions:
    """The deployment network a cost model describes, from its fields."""
    return BuildOptions(depth_multiplier=provider.depth_multiplier, input_size=provider.input_size,
                        num_classes=provider.num_classes)


def _arch_or_error(obj: Any, provider: str, accepts: str) -> Arch:
    if isinstance(obj, (Arch, str, list, tuple)):
        return as_arch(obj)
    raise TypeError(f"{provider} takes {accepts}, got {type(obj).__name__}")


@dataclass
class FlopsProvider(LatencyProvider):
    """Mult-adds of an ``Arch`` (analytic, equal to ``profile_model``'s count of the built model) or a Keras model."""

    name: ClassVar[str] = "flops"

    depth_multiplier: float = 1.0
    input_size: int = 224
    num_classes: int = 1000

    def latency_of(self, network: Buildable, options: BuildOptions) -> LatencyResult:
        return _analytic(self, network, options)

    def latency(self, model_or_arch: Any) -> LatencyResult:
        if _is_keras_model(model_or_arch):
            mult_adds, source = summarize(model_or_arch)["mult_adds"], model_or_arch.name
        else:
            arch = _arch_or_error(model_or_arch, "the flops provider", "an Arch, a reference name, block strings or a "
                                                                       "keras.Model")
            mult_adds = sum(op.mult_adds for op in arch_ops(arch, _options(self)))
            source = arch.name or arch.arch_id
        value = mult_adds / 1e6
        return LatencyResult(median_ms=value, p90_ms=None, mean_ms=value, std_ms=0.0, cv=0.0, runs=1,
                             provenance=Provenance("computed", "mult-adds, not a latency"),
                             details={"unit": "million mult-adds (not ms)", "mult_adds": int(mult_adds),
                                      "model": source, "depth_multiplier": self.depth_multiplier,
                                      "input_size": self.input_size, "num_classes": self.num_classes},
                             unit="M mult-adds")


@dataclass
class Pixel1ModelProvider(LatencyProvider):
    """Predicted Pixel-1 latency (ms) of an ``Arch`` (analytic features, microseconds) or any Keras model."""

    name: ClassVar[str] = "pixel1-model"

    depth_multiplier: float = 1.0
    input_size: int = 224
    num_classes: int = 1000
    model_path: str | Path | None = None

    def latency_of(self, network: Buildable, options: BuildOptions) -> LatencyResult:
        return _analytic(self, network, options)

    def latency(self, model_or_arch: Any) -> LatencyResult:
        return _feature_prediction(self, load_pixel1_model(self.model_path), model_or_arch)

    def breakdown_ms(self, network: Buildable, options: BuildOptions = DEPLOYMENT) -> dict[str, float] | None:
        """The model's milliseconds per part of a MnasNet-space ``Arch`` (linear in features that add up over
        layers); None for any other network."""
        return _feature_breakdown(load_pixel1_model(self.model_path), network, options)


def _feature_breakdown(model: Pixel1Model, network: Buildable, options: BuildOptions) -> dict[str, float] | None:
    """A feature model's milliseconds per part of a MnasNet-space ``Arch`` (linear in features that add up over
    layers); None for any other network."""
    return model.breakdown_ms(network, options) if isinstance(network, Arch) else None


def _feature_prediction(provider: LatencyProvider, model: Pixel1Model, model_or_arch: Any) -> LatencyResult:
    """A feature model's prediction for an ``Arch`` (analytic) or a Keras model, labelled with its grouped error."""
    if _is_keras_model(model_or_arch):
        features, source = model.model_features(model_or_arch), model_or_arch.name
    else:
        arch = _arch_or_error(model_or_arch, f"the {provider.name} provider", "an Arch, a reference name, block "
                                                                            "strings or a keras.Model")
        features = model.arch_features(arch, _options(provider))
        source = arch.name or arch.arch_id
    return _prediction(model.predict_features(features), Provenance("predicted", model.label),
                       {"model": source, "grouped_mape": model.grouped_mape, "loo_mape": model.loo_mape,
                        "measured_range": model.measured_range, "fit_date": model.fit_date,
                        "contributions_ms": model.contributions(features),
                        "depth_multiplier": provider.depth_multiplier, "input_size": provider.input_size,
                        "num_classes": provider.num_classes})


@dataclass
class HostModelProvider(LatencyProvider):
    """Predicted host latency (ms, 1 thread) of an ``Arch`` from this machine's layer table; layers the table lacks
    are measured on demand (``measure_missing=False`` raises instead)."""

    name: ClassVar[str] = "host-model"

    depth_multiplier: float = 1.0
    input_size: int = 224
    num_classes: int = 1000
    cache_dir: str | Path | None = None
    measure_missing: bool = True
    pin_core: int | None = 0

    def __post_init__(self) -> None:
        self.table = HostLayerTable(self.cache_dir, pin_core=self.pin_core, measure_missing=self.measure_missing)

    def latency_of(self, network: Buildable, options: BuildOptions) -> LatencyResult:
        if not isinstance(network, Arch):
            raise UserError(f"the host-model provider predicts MnasNet-space architectures only, not {network.name}; "
                            "measure it with the host provider")
        return _analytic(self, network, options)

    def latency(self, model_or_arch: Any) -> LatencyResult:
        arch = _arch_or_error(model_or_arch, "the host-model provider", "an Arch, a reference name or block strings "
                                                                       "(measure Keras models with host-tflite)")
        table = self.table
        layer_sum, value = table.arch_sum_ms(arch, _options(self)), table.predict_ms(arch, _options(self))
        calibration = table.calibration
        error = calibration.label if calibration else "uncalibrated layer sum, error unknown: run `mnas calibrate`"
        provenance = Provenance("predicted", f"host layer table, {table.fingerprint_id} "
                                             f"({table.fingerprint['cpu_model']}), {error}")
        return _prediction(value, provenance, {"model": arch.name or arch.arch_id, "layer_sum_ms": layer_sum,
                                               "fingerprint": table.fingerprint, "table": str(table.path),
                                               "calibration": asdict(calibration) if calibration else None,
                                               "depth_multiplier": self.depth_multiplier,
                                               "input_size": self.input_size, "num_classes": self.num_classes})
