"""The latency interface every measurement or cost model implements, and the registry that names them.

MnasNet's reward needs one number per architecture: its inference latency on the target phone. We can obtain that
number several ways (measure TFLite on this host, measure on a Pixel over adb, predict it with a cost model, count
FLOPs), and the search and the notebooks must not care which one. So each way is a ``LatencyProvider`` with a
``name`` and one method, ``latency(model)``, returning a ``LatencyResult`` that always carries its provenance: a
measured millisecond and a predicted millisecond must never be mistaken for each other in a table.
"""
from __future__ import annotations

import math
from abc import ABC, abstractmethod
from dataclasses import asdict, dataclass, field
from typing import Any, Callable, ClassVar, Iterable

import numpy as np

from mnaslib.spaces.buildable import DEPLOYMENT, BuildOptions, Buildable
from mnaslib.labels import Provenance
from mnaslib.registry import Registry

# The robust spread estimate below is scaled so that it equals the standard deviation for normally distributed noise.
_MAD_TO_STD = 1.4826


@dataclass(frozen=True)
class LatencyResult:
    """One latency figure with its spread, how many runs it rests on, and where it came from.

    ``cv`` is the coefficient of variation of the timed runs. Which estimator produced it is recorded in
    ``details['cv_method']``: host measurements use the robust ``1.4826 * MAD / median`` because on a shared machine
    a handful of preempted runs would otherwise dominate ``std / mean``; adb measurements can only use
    ``std / mean`` because that is all TFLite's ``benchmark_model`` prints. ``p90_ms`` is ``None`` where the source
    reports no such percentile (``benchmark_model`` prints p5/median/p95 at best). ``details`` holds everything
    needed to judge or repeat the figure: runtime and TensorFlow versions, CPU or phone model, threads, input
    shape, and so on.
    """

    median_ms: float
    p90_ms: float | None
    mean_ms: float
    std_ms: float
    cv: float
    runs: int
    provenance: Provenance
    details: dict[str, Any] = field(default_factory=dict)
    unit: str = "ms"  # a cost model of something other than time says so (``flops``: "M mult-adds")

    def __post_init__(self) -> None:
        for name in ("median_ms", "mean_ms", "std_ms", "cv"):
            value = getattr(self, name)
            if not math.isfinite(value) or value < 0:
                raise ValueError(f"LatencyResult.{name} must be a finite non-negative number, got {value!r}")
        if self.runs < 1:
            raise ValueError(f"LatencyResult.runs must be at least 1, got {self.runs}")

    @classmethod
    def from_samples(cls, samples_ms: Iterable[float], provenance: Provenance,
                     details: dict[str, Any] | None = None) -> "LatencyResult":
        """Summarise raw per-run timings (milliseconds) with the median, p90 and the robust CV described above."""
        samples = np.asarray(list(samples_ms), dtype=np.float64)
        if samples.size == 0:
            raise ValueError("cannot summarise an empty list of latency samples")
        median = float(np.median(samples))
        mad = float(np.median(np.abs(samples - median)))
        cv = _MAD_TO_STD * mad / median if median > 0 else 0.0
        return cls(median_ms=median, p90_ms=float(np.percentile(samples, 90)), mean_ms=float(samples.mean()),
                   std_ms=float(samples.std()), cv=cv, runs=int(samples.size), provenance=provenance,
                   details={"cv_method": "robust (1.4826 * MAD / median)", "min_ms": float(samples.min()),
                            **(details or {})})

    def to_dict(self) -> dict[str, Any]:
        """A flat, JSON-friendly view for tables and result files; provenance becomes its label and kind."""
        row = asdict(self)
        row["provenance"] = self.provenance.label
        row["provenance_kind"] = self.provenance.kind
        return row


class LatencyProvider(ABC):
    """A way of obtaining an architecture's latency: measurement on some runtime, or a model predicting one.

    Subclasses set ``name`` (the registry key) and implement ``latency``. What ``latency`` accepts depends on the
    provider: the runtime-backed ones take a ``keras.Model`` or a ``.tflite`` file, cost models may take an ``Arch``;
    each says so in its docstring and raises ``TypeError`` for anything else.
    """

    name: ClassVar[str]

    @abstractmethod
    def latency(self, model_or_arch: Any) -> LatencyResult:
        """The latency of one batch-1 inference of ``model_or_arch``."""

    def latency_of(self, network: Buildable, options: BuildOptions = DEPLOYMENT) -> LatencyResult:
        """The latency of ``network`` built with ``options``. Runtime-backed providers build and measure it; cost
        models that read a MnasNet-space architecture directly override this to skip the build."""
        return self.latency(network.build(options))

    def breakdown_ms(self, network: Buildable, options: BuildOptions = DEPLOYMENT) -> dict[str, float] | None:
        """Milliseconds of each part of ``network`` (stem, each block, head) adding up to ``latency_of``'s value,
        for a provider whose number is a sum over layers; None for the others (a measurement has no parts)."""
        return None


ProviderFactory = Callable[..., LatencyProvider]
# The one registry of providers: the built-in ones by "module:class", imported on first use (so importing
# mnaslib.latency stays light), and any a user registers; a provider's options are its factory's keywords.
ALIASES = {"host": "host-tflite", "adb": "pixel-adb"}  # the short names the CLI and configs use
PROVIDERS: Registry[LatencyProvider] = Registry("latency provider", aliases=ALIASES)
for _name, _spec in (("host-tflite", "mnaslib.latency.host:HostTFLiteProvider"),
                     ("pixel-adb", "mnaslib.latency.adb:AdbPixelProvider"),
                     ("pixel1-model", "mnaslib.latency.cost_model:Pixel1ModelProvider"),
                     ("host-model", "mnaslib.latency.cost_model:HostModelProvider"),
                     ("flops", "mnaslib.latency.cost_model:FlopsProvider"),
                     ("device-model", "mnaslib.latency.device_model:device_model_provider")):
    PROVIDERS.add(_name, _spec, options=None)


def register_provider(name: str, factory: ProviderFactory) -> None:
    """Make ``factory`` available as ``get_provider(name, **options)`` (the same factory twice is harmless, another
    one under a taken name is refused: ``Registry.add``)."""
    if not name or name != name.strip():
        raise ValueError(f"a latency provider name must be non-empty without surrounding spaces, got {name!r}")
    PROVIDERS.add(name, factory, options=None)


def get_provider(name: str, /, **options: Any) -> LatencyProvider:
    """Build the provider registered as ``name`` with ``options`` (e.g. ``get_provider('host-tflite', runs=200)``);
    ``host`` and ``adb`` are accepted for ``host-tflite`` and ``pixel-adb``."""
    return PROVIDERS.make(name, options)


def provider_names() -> list[str]:
    """The provider names that ``get_provider`` accepts, sorted."""
    return sorted(PROVIDERS.names())
