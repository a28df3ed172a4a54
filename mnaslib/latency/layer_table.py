"""A per-layer latency table for this host: measure each distinct layer once, predict any network as a sum.

Measuring a whole network on the host costs seconds (mostly the TFLite conversion); a search samples thousands.
But networks of one search space share layers: at 224x224 the whole MnasNet space has only about 2,500 distinct
layers. So each distinct layer (stem, block layer, head; :class:`mnaslib.spaces.ops.LayerKey` says what makes two
layers the same) is built alone as a tiny Keras model, converted to TFLite and timed with LiteRT on one pinned core
with one thread, and the result is cached on disk. A network's prediction is the sum over its layers: microseconds
once its layers are in the table; a missing layer is measured on demand.

**Timing protocol (why not a plain median).** On a shared machine the speed of a core drifts by +-20% within
minutes as other processes load the caches, memory bus and sibling cores: the same layer measured 8 times over a
minute had a 20% coefficient of variation between rounds, whatever the estimator (wall or CPU time, median, min or
p10). Two measures fix most of it: each invocation is timed with the thread's CPU time (so being descheduled does
not count), and the target's invocations alternate with those of a fixed *reference layer*; the latency is
``median(target_i / reference_i) * reference_ms`` over the pairs ``i`` of adjacent invocations, where
``reference_ms`` is the reference layer's latency recorded when the table was created. Drifts that slow both
equally cancel: the between-round CV of a whole network fell from 15-20% (no reference) to 2-4%, and of most single
layers to 3-5%; kernels unlike the reference's (a regular 5x5 conv) still moved by 6-15%, since contention does not
slow every kind of kernel equally. Host-model milliseconds are therefore "milliseconds at the machine speed at which
the table's reference was recorded"; whole networks are measured with the same protocol for calibration and
testing, alongside the project's plain wall-clock median (:func:`mnaslib.latency.host.measure_tflite`).
The protocol needs one interpreter thread, so the table is single-threaded, as in the paper.

**Calibration.** The sum of isolated layers is not the network's latency: every isolated run pays the
interpreter's per-invoke overhead and starts with caches warm with its own input. :func:`calibrate` fits a
correction ``measured = a * sum + b`` on a calibration set of measured whole networks and reports the error on a
separate test set; the fit and its test error are stored with the table.

**Machine fingerprint.** A table is only valid on the machine and runtime that measured it: the cache file is
named by a fingerprint (CPU model, architecture, LiteRT and TensorFlow versions, threads, protocol version) and a
table with another fingerprint is never read.

**Conversion** is :func:`mnaslib.latency.tflite.fast_tflite`; **calibration** against whole networks is
:mod:`mnaslib.latency.calibration`.
"""
from __future__ import annotations

import contextlib
import datetime as _dt
import fcntl
import hashlib
import json
import os
import platform
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Iterable, Iterator

import numpy as np

from mnaslib.latency.host import measure_tflite
from mnaslib.latency.runtime import cpu_model, cpu_ms, gc_paused, interpreter, package_version, pinned
from mnaslib.spaces.ops import LayerKey, arch_layers
from mnaslib.latency.tflite import fast_tflite
from mnaslib.spaces.buildable import DEPLOYMENT, BuildOptions
from mnaslib.spaces.zoo import as_arch
from mnaslib.spaces.arch import Arch
from mnaslib.spaces.blocks import block_layer, conv_bn

CACHE_ENV = "MNAS_LATENCY_CACHE"
# Bump when the way layers are built, converted or timed changes: old tables then stop matching.
PROTOCOL = "layer-table-v2 (thread CPU time, median ratio to an interleaved reference layer, 1 thread)"
# An A1-like MBConv6 k3 layer at 28x28x40 with its identity add: ~0.4 ms on a 2020s x86 core, long enough to time
# precisely, short enough to interleave cheaply.
REFERENCE_LAYER = LayerKey("block", 40, 40, 28, 3, 1, "mbconv", 6, 40, 0, "add")
_RATIO_MAD_TO_CV = 1.4826


def default_cache_dir() -> Path:
    """``$MNAS_LATENCY_CACHE`` if set, else ``~/.cache/mnaslib/latency``."""
    override = os.environ.get(CACHE_ENV)
    return Path(override) if override else Path.home() / ".cache" / "mnaslib" / "latency"


def machine_fingerprint() -> dict[str, Any]:
    """What must match for a measured latency to be reused: CPU, runtime versions, threads, protocol."""
    return {"cpu_model": cpu_model(), "machine": platform.machine(), "litert": package_version("ai-edge-litert"),
            "tensorflow": package_version("tensorflow-cpu") or package_version("tensorflow"), "num_threads": 1,
            "protocol": PROTOCOL}


def fingerprint_id(fingerprint: dict[str, Any]) -> str:
    """A short stable hash of a fingerprint, used in cache file names and provenance labels."""
    return hashlib.sha1(json.dumps(fingerprint, sort_keys=True).encode()).hexdigest()[:10]


# ---------------------------------------------------------------------------------------------------------------
# Building and converting
# ---------------------------------------------------------------------------------------------------------------
def layer_model(key: LayerKey):
    """A Keras model holding exactly one layer of a network, built with the same code as ``build_model``."""
    import keras
    from keras import layers

    inputs = keras.Input((key.resolution, key.resolution, key.in_channels), batch_size=1, name="image")
    if key.part == "stem":
        x = conv_bn(inputs, key.out_channels, key.kernel, key.stride, "stem")
    elif key.part == "head":
        x = conv_bn(inputs, key.out_channels, 1, 1, "head")
        x = layers.GlobalAveragePooling2D(name="avg_pool")(x)
        x = layers.Dense(key.classes, name="predictions")(x)
    elif key.part == "block":
        x = block_layer(inputs, key.block_spec(), key.in_filters, key.out_channels, key.stride, "block", key.gate)
    else:
        raise ValueError(f"unknown layer part {key.part!r}; expected stem, block or head")
    return keras.Model(inputs, x, name=key.part)


# ---------------------------------------------------------------------------------------------------------------
# Reference-normalised timing
# ---------------------------------------------------------------------------------------------------------------
@dataclass
class PairedTimer:
    """Times a model by thread CPU time, alternating invocations with a reference model (see the module doc).

    Each measurement runs for about ``budget_s`` seconds of invocations, between ``min_pairs`` and ``max_pairs``
    target/reference pairs, after ``warmup`` untimed pairs, with the garbage collector paused and the thread pinned
    to ``pin_core``.
    """

    reference: bytes
    pin_core: int | None = 0
    warmup: int = 5
    budget_s: float = 0.3
    min_pairs: int = 15
    max_pairs: int = 300
    _reference: Any = field(default=None, init=False, repr=False)

    def measure(self, flatbuffer: bytes) -> dict[str, float]:
        """``ratio`` = the median over pairs of target / reference CPU time, with its robust CV over pairs, the raw
        medians (``cpu_ms``, ``reference_cpu_ms``, ``wall_ms``) and the number of ``pairs``."""
        with pinned(self.pin_core):
            if self._reference is None:
                self._reference = interpreter(self.reference)[0]
            target, reference = interpreter(flatbuffer)[0], self._reference
            for _ in range(self.warmup):
                target.invoke()
                reference.invoke()
            estimate = np.median([cpu_ms(target) + cpu_ms(reference) for _ in range(3)])
            pairs = int(np.clip(self.budget_s * 1e3 / max(estimate, 1e-3), self.min_pairs, self.max_pairs))
            cpu, ref, wall = np.empty(pairs), np.empty(pairs), np.empty(pairs)
            with gc_paused():
                for i in range(pairs):
                    start = time.perf_counter_ns()
                    cpu[i] = cpu_ms(target)
                    wall[i] = (time.perf_counter_ns() - start) / 1e6
                    ref[i] = cpu_ms(reference)
        ratios = cpu / ref
        ratio = float(np.median(ratios))
        spread = float(_RATIO_MAD_TO_CV * np.median(np.abs(ratios - ratio)) / ratio)
        return {"ratio": ratio, "ratio_cv": spread, "cpu_ms": float(np.median(cpu)),
                "reference_cpu_ms": float(np.median(ref)), "wall_ms": float(np.median(wall)), "pairs": pairs}

    def reference_ms(self, runs: int = 300) -> float:
        """The reference layer's own median CPU time: the scale of a new table."""
        with pinned(self.pin_core):
            if self._reference is None:
                self._reference = interpreter(self.reference)[0]
            for _ in range(self.warmup):
                self._reference.invoke()
            return float(np.median([cpu_ms(self._reference) for _ in range(runs)]))


# ---------------------------------------------------------------------------------------------------------------
# The table
# ---------------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Calibration:
    """``measured = a * layer_sum + b``, fitted on measured whole networks, with its held-out test error."""

    a: float
    b: float
    calibration_networks: int
    calibration_mape: float
    test_networks: int = 0
    test_mape: float = float("nan")
    test_max_error: float = float("nan")
    test_within_10: float = float("nan")
    test_within_5: float = float("nan")
    date: str = ""

    def apply(self, layer_sum_ms: float) -> float:
        return self.a * layer_sum_ms + self.b

    @property
    def label(self) -> str:
        if self.test_networks:
            return (f"a*sum+b fitted on {self.calibration_networks} networks, test MAPE {100 * self.test_mape:.1f}% "
                    f"on {self.test_networks}")
        return f"a*sum+b fitted on {self.calibration_networks} networks, no held-out test yet"


@dataclass
class HostLayerTable:
    """Per-layer host latencies, measured on demand with the protocol above and cached on disk.

    ``measure_missing=False`` makes a lookup of an unmeasured layer a ``KeyError`` instead of a measurement (for
    code that must stay cheap). ``fingerprint`` overrides the computed machine fingerprint (tests simulate another
    machine with it). ``measurements`` counts the layers this object measured, so callers can see a cache reused.
    """

    cache_dir: str | Path | None = None
    pin_core: int | None = 0
    budget_s: float = 0.3
    measure_missing: bool = True
    fingerprint: dict[str, Any] | None = None
    measurements: int = field(default=0, init=False)
    reference_ms: float = field(default=float("nan"), init=False)
    _layers: dict[str, dict[str, Any]] = field(default_factory=dict, init=False, repr=False)
    _networks: dict[str, dict[str, Any]] = field(default_factory=dict, init=False, repr=False)
    _calibration: dict[str, Any] | None = field(default=None, init=False, repr=False)
    _timer: PairedTimer | None = field(default=None, init=False, repr=False)
    _dirty: bool = field(default=False, init=False, repr=False)
    _batch: bool = field(default=False, init=False, repr=False)

    def __post_init__(self) -> None:
        self.cache_dir = Path(self.cache_dir) if self.cache_dir is not None else default_cache_dir()
        if self.fingerprint is None:
            self.fingerprint = machine_fingerprint()
        self._load()

    @property
    def fingerprint_id(self) -> str:
        return fingerprint_id(self.fingerprint)

    @property
    def path(self) -> Path:
        """The cache file: one per fingerprint, so another machine's table is never even opened."""
        return Path(self.cache_dir) / f"host-layers-{self.fingerprint_id}.json"

    @property
    def calibration(self) -> Calibration | None:
        return Calibration(**self._calibration) if self._calibration else None

    def __len__(self) -> int:
        return len(self._layers)

    def __contains__(self, key: LayerKey) -> bool:
        return key.text in self._layers

    # ---- layers ----------------------------------------------------------------------------------------------
    def layer_ms(self, key: LayerKey) -> float:
        """The layer's latency in ms, measured now (and saved) if the table does not have it yet."""
        entry = self._layers.get(key.text)
        if entry is None:
            if not self.measure_missing:
                raise KeyError(f"layer {key.text} is not in the host layer table {self.path} and measure_missing is "
                               "False")
            entry = self._measure_layer(key)
        return entry["ms"]

    def layer_sum_ms(self, layers: Iterable[LayerKey]) -> float:
        """Sum of the layers' latencies; missing layers are measured first and the file is written once."""
        layers = list(layers)
        missing = list(dict.fromkeys(k for k in layers if k.text not in self._layers))
        if missing:
            with self._saving():
                for key in missing:
                    self.layer_ms(key)
        return float(sum(self._layers[k.text]["ms"] for k in layers))

    def arch_sum_ms(self, arch: Arch | str, options: BuildOptions = DEPLOYMENT) -> float:
        """Uncorrected prediction: the sum of the network's stem, layers and head."""
        return self.layer_sum_ms(arch_layers(arch, options))

    def predict_ms(self, arch: Arch | str, options: BuildOptions = DEPLOYMENT) -> float:
        """The calibrated prediction (the raw layer sum if the table has no calibration yet)."""
        total = self.arch_sum_ms(arch, options)
        calibration = self.calibration
        return calibration.apply(total) if calibration else total

    def _measure_layer(self, key: LayerKey) -> dict[str, Any]:
        entry = self._measure(fast_tflite(layer_model(key)))
        self._layers[key.text] = entry
        self.measurements += 1
        self._dirty = True
        if not self._batch:
            self.save()
        return entry

    def _measure(self, flatbuffer: bytes) -> dict[str, Any]:
        """One reference-normalised measurement as a cache entry."""
        if self._timer is None:
            self._timer = PairedTimer(fast_tflite(layer_model(REFERENCE_LAYER)), self.pin_core,
                                      budget_s=self.budget_s)
        if not np.isfinite(self.reference_ms):
            self.reference_ms = self._timer.reference_ms()
            self._dirty = True
        result = self._timer.measure(flatbuffer)
        return {"ms": result["ratio"] * self.reference_ms, **result,
                "load_average_1min": os.getloadavg()[0] if hasattr(os, "getloadavg") else None,
                "measured_at": _dt.datetime.now().isoformat(timespec="seconds")}

    # ---- whole networks --------------------------------------------------------------------------------------
    def network(self, arch: Arch | str, options: BuildOptions = DEPLOYMENT, *,
                remeasure: bool = False) -> dict[str, Any]:
        """The whole network measured (cached in the same file): ``ms`` with this table's protocol (the ground
        truth of the calibration), ``wall_median_ms`` from the project's plain host runner on the same flatbuffer,
        and ``seconds`` the measurement took end to end (build, conversion, timing)."""
        arch = as_arch(arch)
        name = f"{arch.arch_id}|x{options.depth_multiplier:g}|r{options.input_size}|n{options.num_classes}"
        if remeasure or name not in self._networks:
            start = time.perf_counter()
            flatbuffer = fast_tflite(arch.build(options))
            entry = self._measure(flatbuffer)
            wall = measure_tflite(flatbuffer, warmup=3, runs=20, max_rounds=1, pin_core=self.pin_core)
            entry.update({"wall_median_ms": wall.median_ms, "wall_cv": wall.cv,
                          "seconds": time.perf_counter() - start, "arch": arch.block_strings(),
                          "stem": arch.stem_filters, "head": arch.head_filters})
            self._networks[name] = entry
            self._dirty = True
            self.save()
        return self._networks[name]

    def network_ms(self, arch: Arch | str, options: BuildOptions = DEPLOYMENT, *, remeasure: bool = False) -> float:
        """The whole network's latency with this table's protocol (see :meth:`network`)."""
        return self.network(arch, options, remeasure=remeasure)["ms"]

    def set_calibration(self, calibration: Calibration) -> None:
        self._calibration = asdict(calibration)
        self._dirty = True
        self.save()

    # ---- persistence -----------------------------------------------------------------------------------------
    def _load(self) -> None:
        if not self.path.is_file():
            return
        data = json.loads(self.path.read_text())
        if data.get("fingerprint") != self.fingerprint:
            raise ValueError(f"{self.path} holds a table for fingerprint {data.get('fingerprint')}, not "
                             f"{self.fingerprint}; delete the file")
        self._layers.update(data.get("layers", {}))
        self._networks.update(data.get("networks", {}))
        self._calibration = data.get("calibration")
        self.reference_ms = float(data.get("reference_ms", float("nan")))

    @contextlib.contextmanager
    def _saving(self) -> Iterator[None]:
        """Measure several layers, then write the file once."""
        self._batch = True
        try:
            yield
        finally:
            self._batch = False
            self.save()

    def _rescale(self, reference_ms: float) -> None:
        self.reference_ms = reference_ms
        for entry in (*self._layers.values(), *self._networks.values()):
            entry["ms"] = entry["ratio"] * reference_ms

    def save(self) -> None:
        """Merge this table into the cache file under a file lock (other processes may share the file).

        The first writer's ``reference_ms`` wins: every entry of one file must share one scale, so entries of a
        process that started its own table concurrently are rescaled (each entry keeps its reference ratio).
        """
        if not self._dirty:
            return
        path = self.path
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path.with_suffix(".lock"), "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            if path.is_file():
                on_disk = json.loads(path.read_text())
                disk_scale = on_disk.get("reference_ms")
                if disk_scale is not None and disk_scale != self.reference_ms:
                    self._rescale(float(disk_scale))
                self._layers = {**on_disk.get("layers", {}), **self._layers}
                self._networks = {**on_disk.get("networks", {}), **self._networks}
                self._calibration = self._calibration or on_disk.get("calibration")
            data = {"fingerprint": self.fingerprint, "reference_layer": REFERENCE_LAYER.text,
                    "reference_ms": self.reference_ms, "layers": self._layers, "networks": self._networks,
                    "calibration": self._calibration}
            partial = path.with_suffix(".json.partial")
            partial.write_text(json.dumps(data, indent=0, sort_keys=True))
            partial.replace(path)
        self._dirty = False


