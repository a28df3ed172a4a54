"""Measure TFLite inference latency on this machine: LiteRT interpreter, batch 1, one thread pinned to one core.

This is the stand-in for the paper's Pixel 1 when no phone is attached. It keeps the paper's protocol where it can
(TFLite runtime, single thread, batch 1, warm-up runs before timing) and fights the noise of a shared machine:
the measuring thread is pinned to one core (and unpinned afterwards), the garbage collector is paused while timing,
the summary is the median, the spread is a robust CV, and a noisy round of runs is repeated, up to ``max_rounds``
times, until its CV is at most ``target_cv``; the quietest round is reported and every round is listed in
``details['rounds']`` so nothing is hidden.

Every run is timed on two clocks. ``clock='wall'`` (the default, what a user of the phone waits) reports
``time.perf_counter_ns``; ``clock='thread_cpu'`` reports ``time.thread_time_ns`` of the measuring thread, which
with one interpreter thread is the inference's own compute time and leaves out the time the OS gave the core to
other processes. On a machine busy with other work the wall median can be inflated two- or threefold while the
thread-CPU median stays put, so prefer ``thread_cpu`` there; both medians are always in ``details``.
"""
from __future__ import annotations

import os
import platform
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Iterable, Literal

import numpy as np

from mnaslib.errors import as_int
from mnaslib.labels import Provenance
from mnaslib.latency.base import LatencyProvider, LatencyResult
from mnaslib.latency.runtime import cpu_model, interpreter, package_version, pinned, runtime_label, timed_runs
from mnaslib.latency.tflite import Quantization, RepresentativeDataset, check_flatbuffer, read_tflite, to_tflite
from mnaslib.registry import typed_value

if TYPE_CHECKING:
    import keras

TFLiteSource = str | Path | bytes
Clock = Literal["wall", "thread_cpu"]
CLOCKS: tuple[str, ...] = ("wall", "thread_cpu")


def measure_tflite(model: TFLiteSource, *, num_threads: int = 1, warmup: int = 20, runs: int = 100,
                   pin_core: int | Iterable[int] | None = 0, max_rounds: int = 3, target_cv: float = 0.05,
                   clock: Clock = "wall", seed: int = 0) -> LatencyResult:
    """Time ``invoke()`` of a TFLite model (a ``.tflite`` path or flatbuffer bytes) on random batch-1 inputs.

    ``pin_core`` is the core (or cores, for several threads) the interpreter runs on; ``None`` leaves scheduling to
    the OS. Each round is ``runs`` timed invocations after ``warmup`` untimed ones; see the module docstring for
    the rounds and the clocks. Works without Keras or TensorFlow when LiteRT is installed.
    """
    _check_options(num_threads=num_threads, warmup=warmup, runs=runs, max_rounds=max_rounds, target_cv=target_cv,
                   clock=clock)
    content = read_tflite(model)
    check_flatbuffer(content, num_params=0)  # catches files that keep their weights as variables
    runtime = runtime_label()
    with pinned(pin_core) as cores:
        loaded, inputs = interpreter(content, num_threads, seed)
        for _ in range(warmup):
            loaded.invoke()
        rounds = []
        for _ in range(max_rounds):
            samples = timed_runs(loaded, runs)
            rounds.append((LatencyResult.from_samples(samples[clock], Provenance("measured")),
                           {name: float(np.median(values)) for name, values in samples.items()}))
            if rounds[-1][0].cv <= target_cv:
                break
    best, best_medians = min(rounds, key=lambda r: r[0].cv)
    cpu = cpu_model()
    thread_word = "thread" if num_threads == 1 else "threads"
    details = {
        **best.details,
        "clock": clock,
        "wall_median_ms": best_medians["wall"],
        "thread_cpu_median_ms": best_medians["thread_cpu"],
        "runtime": runtime,
        "litert_version": package_version("ai-edge-litert"),
        "tensorflow_version": package_version("tensorflow-cpu") or package_version("tensorflow"),
        "cpu_model": cpu,
        "machine": platform.machine(),
        "num_threads": num_threads,
        "pinned_cores": sorted(cores) if cores is not None else None,
        "batch_size": 1,
        "input_shapes": [list(map(int, d["shape"])) for d in inputs],
        "input_dtypes": [np.dtype(d["dtype"]).name for d in inputs],
        "warmup_runs": warmup,
        "runs_per_round": runs,
        "rounds": [{"median_ms": r.median_ms, "cv": r.cv} for r, _ in rounds],
        "target_cv": target_cv,
        "load_average_1min": os.getloadavg()[0] if hasattr(os, "getloadavg") else None,
        "model": "<bytes>" if isinstance(model, bytes) else str(model),
        "model_bytes": len(content),
    }
    clock_note = ", thread CPU time" if clock == "thread_cpu" else ""
    provenance = Provenance("measured", f"host TFLite ({runtime}), {cpu}, {num_threads} {thread_word}{clock_note}")
    return replace(best, provenance=provenance, details=details)


@dataclass
class HostTFLiteProvider(LatencyProvider):
    """Latency of a ``keras.Model`` (converted with ``to_tflite``) or a ``.tflite`` file, measured on this host.

    Options are those of ``measure_tflite`` (including ``clock='thread_cpu'`` for a busy machine) plus the
    conversion's: ``quantization`` ('float32' or 'int8', the latter with a ``representative_dataset``) and
    ``cache_dir`` to reuse float32 conversions across calls.
    """

    name: ClassVar[str] = "host-tflite"

    num_threads: int = 1
    warmup: int = 20
    runs: int = 100
    pin_core: int | tuple[int, ...] | None = 0
    max_rounds: int = 3
    target_cv: float = 0.05
    clock: Clock = "wall"
    seed: int = 0
    quantization: Quantization = "float32"
    representative_dataset: RepresentativeDataset | None = None
    cache_dir: str | Path | None = None

    def __post_init__(self) -> None:
        _check_options(num_threads=self.num_threads, warmup=self.warmup, runs=self.runs, max_rounds=self.max_rounds,
                       target_cv=self.target_cv, clock=self.clock)

    def latency(self, model_or_arch: Any) -> LatencyResult:
        """Measure a ``keras.Model``, a ``.tflite`` path or flatbuffer bytes; anything else is a ``TypeError``."""
        options = dict(num_threads=self.num_threads, warmup=self.warmup, runs=self.runs, pin_core=self.pin_core,
                       max_rounds=self.max_rounds, target_cv=self.target_cv, clock=self.clock, seed=self.seed)
        if isinstance(model_or_arch, (bytes, str, Path)):
            return measure_tflite(model_or_arch, **options)
        model = _require_keras_model(model_or_arch, type(self).__name__)
        flatbuffer = to_tflite(model, quantization=self.quantization,
                               representative_dataset=self.representative_dataset, cache_dir=self.cache_dir)
        result = measure_tflite(flatbuffer, **options)
        details = {**result.details, "model": model.name, "params": int(model.count_params()),
                   "quantization": self.quantization}
        return replace(result, details=details)


def _require_keras_model(obj: Any, provider: str) -> "keras.Model":
    import keras

    if not isinstance(obj, keras.Model):
        raise TypeError(f"{provider} measures a keras.Model or a .tflite file (path or bytes), got "
                        f"{type(obj).__name__}; build an Arch into a model first with "
                        "mnaslib.spaces.models.build_model")
    return obj


def _check_options(*, num_threads: int, warmup: int, runs: int, max_rounds: int, target_cv: float,
                   clock: str) -> None:
    num_threads, warmup, runs, max_rounds = (as_int(value, name) for value, name in (
        (num_threads, "num_threads"), (warmup, "warmup"), (runs, "runs"), (max_rounds, "max_rounds")))
    target_cv = typed_value(target_cv, "float", "target_cv")
    if num_threads < 1:
        raise ValueError(f"num_threads must be at least 1, got {num_threads}")
    if warmup < 0:
        raise ValueError(f"warmup must be non-negative, got {warmup}")
    if runs < 5:
        raise ValueError(f"runs must be at least 5 for a meaningful median and spread, got {runs}")
    if max_rounds < 1:
        raise ValueError(f"max_rounds must be at least 1, got {max_rounds}")
    if not target_cv > 0:
        raise ValueError(f"target_cv must be positive, got {target_cv}")
    if clock not in CLOCKS:
        raise ValueError(f"unknown clock {clock!r}; expected one of {', '.join(CLOCKS)}")
    if clock == "thread_cpu" and num_threads != 1:
        raise ValueError("clock='thread_cpu' times only the calling thread, so it needs num_threads=1; use "
                         "clock='wall' for several threads")
