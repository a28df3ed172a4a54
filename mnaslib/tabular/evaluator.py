"""A tabular benchmark as the search's evaluator: each child's accuracy is looked up, not trained.

``BenchmarkEvaluator`` is an ``Evaluator`` like the proxy trainer (``Job -> ChildMetrics``), so the same search loop,
store, cache and notebooks run on real trained accuracies at thousands of samples a minute: NAS-Bench-Macro's
CIFAR-10 trainings (the table itself, optionally one of its three runs per query to model training noise) or
Accel-NASBench's ImageNet trainings (through its surrogate, labelled with its held-out error).
"""
from __future__ import annotations

import importlib
import time
from dataclasses import dataclass
from functools import cached_property, lru_cache, partial
from typing import Any

import numpy as np

from mnaslib.spaces.buildable import DEPLOYMENT, BuildOptions
from mnaslib.errors import UserError
from mnaslib.evaluation.jobs import ChildMetrics, Job
from mnaslib.registry import Registry
from mnaslib.tabular.base import TabularBenchmark
from mnaslib.spaces.arch import Arch

# name -> (module, benchmark class, space class, the file the benchmark reads)
BENCHMARKS = {
    "nasbench-macro": ("mnaslib.tabular.nasbench_macro", "NASBenchMacro", "mnaslib.spaces.macro:MacroSpace",
                       "NASBENCH_MACRO"),
    "accel-nasbench": ("mnaslib.tabular.accel_nasbench", "AccelNASBench", "mnaslib.spaces.accel:AccelSpace",
                       "ACCEL_NASBENCH"),
}
ACCURACY_MODES = ("mean", "one_run")


def _check_name(name: str) -> tuple[str, str, str, str]:
    BENCHMARK_REGISTRY.get(name)
    return BENCHMARKS[name]


def _attribute(spec: str) -> Any:
    module, _, name = spec.partition(":")
    return getattr(importlib.import_module(module), name)


@lru_cache(maxsize=8)
def load_benchmark(name: str, path: str | None = None) -> TabularBenchmark:
    """The benchmark ``name``, loaded once per process (its file located and checked by sha256)."""
    module, cls, _, _ = _check_name(name)
    benchmark = getattr(importlib.import_module(module), cls)
    return benchmark.load(path) if hasattr(benchmark, "load") else benchmark(path)


def benchmark_space(name: str, options: dict | None = None):
    """The benchmark's search space (no data needed); ``options`` are its space's own (Accel-NASBench's
    ``se: false`` is the space without squeeze-excitation)."""
    try:
        return _attribute(_check_name(name)[2])(**(options or {}))
    except TypeError as err:
        raise UserError(f"bad options {options} for benchmark {name}'s space: {err}") from None


def benchmark_deployment(name: str) -> BuildOptions:
    """The network whose latency a search of this benchmark rewards: NAS-Bench-Macro's own 32x32 CIFAR-10
    network, Accel-NASBench's 224x224 ImageNet one."""
    if name == "nasbench-macro":
        return _attribute("mnaslib.spaces.macro:MACRO_OPTIONS")
    _check_name(name)
    return DEPLOYMENT


@dataclass(frozen=True)
class BenchmarkEvaluator:
    """Look each child up in the benchmark ``name`` (file at ``path``, or located as ``BenchmarkFile`` says).

    ``accuracy`` is ``mean`` (the benchmark's headline) or ``one_run`` (one recorded training run, drawn with the
    trial's seed, so a search sees the noise a real training would give).
    """

    name: str
    path: str | None = None
    accuracy: str = "mean"

    def __post_init__(self) -> None:
        _check_name(self.name)
        if self.accuracy not in ACCURACY_MODES:
            raise UserError(f"benchmark accuracy must be one of {', '.join(ACCURACY_MODES)}, got {self.accuracy!r}")

    @property
    def benchmark(self) -> TabularBenchmark:
        return load_benchmark(self.name, self.path)

    @cached_property
    def label(self) -> str:
        return self.describe()

    def describe(self) -> str:
        space = self.benchmark.space
        label = self.benchmark.record(space.decode(space.sample(0))).provenance.label
        return label if self.accuracy == "mean" else f"{label[:-1]}; one recorded run per query)"

    def check(self) -> None:
        self.benchmark  # locates, checks and parses the file: a missing or damaged one fails here, once

    def data_source(self) -> dict[str, Any]:
        file = getattr(importlib.import_module(BENCHMARKS[self.name][0]), BENCHMARKS[self.name][3])
        return {"name": self.name, "fingerprint": f"sha256:{file.sha256}", "source": str(file.locate(self.path)),
                "accuracy": self.accuracy}

    def __call__(self, job: Job) -> ChildMetrics:
        record = self.benchmark.record(job.arch)
        accuracy = (record.draw_run(np.random.default_rng(job.seed)) if self.accuracy == "one_run"
                    else record.accuracy)
        extra = record.extra
        return ChildMetrics(float(accuracy), self.label, trainable_params=_int(extra.get("params")),
                            mult_adds=_int(extra.get("flops", extra.get("macs"))), train_seconds=0.0,
                            eval_seconds=0.0, extra={"benchmark": self.name})


@dataclass(frozen=True)
class BenchmarkOptions:
    """A ``benchmark`` section's settings besides its name: the file, how accuracies are drawn, and the options of
    the benchmark's own space (Accel-NASBench's ``{se: false}``)."""

    path: str | None = None
    accuracy: str = "mean"
    space: dict | None = None


def _benchmark_evaluator(name: str, options: BenchmarkOptions) -> BenchmarkEvaluator:
    return BenchmarkEvaluator(name, options.path, options.accuracy)


# The tabular benchmarks a profile's ``benchmark`` names; each builds its evaluator (files are read on first use)
BENCHMARK_REGISTRY: Registry[BenchmarkEvaluator] = Registry(
    "benchmark", hint=" (or leave it unset to train children)")
for _name in BENCHMARKS:
    BENCHMARK_REGISTRY.add(_name, partial(_benchmark_evaluator, _name), BenchmarkOptions)


def _int(value: Any) -> int | None:
    return None if value is None else int(value)


@lru_cache(maxsize=2)
def load_predictor(path: str | None = None):
    """Accel-NASBench's predictor of ``accel_predictor``, fitted once per process on the choosing part."""
    from mnaslib.tabular.accel_nasbench import load_results  # lazy: keeps TensorFlow, SciPy, sklearn out
    from mnaslib.tabular.accel_predictor import AccelPredictor  # lazy: keeps TensorFlow, SciPy, sklearn out

    return AccelPredictor.fit(load_results(path))


@dataclass(frozen=True)
class PredictorEvaluator:
    """Score each MnasNet-space child by the ImageNet top-1 that ``accel_predictor``'s model, fitted on
    Accel-NASBench's choosing part, predicts for it (``evaluator: accel-predictor``).

    Why: on Accel-NASBench's verdict part it ranks trained networks far better than NASWOT or the parameter count
    (``benchmarks/accel_fidelity.py``; the README's table), in milliseconds a child, and its value is on the
    accuracy scale, so the reward trades accuracy against latency as the paper's does. Its label carries the
    verdict-part error and what it cannot see of a MnasNet-space child (``accel_predictor.CANNOT_SEE``). The
    children are scored in the search's own process: shipping them to workers would cost more than scoring them.
    """

    path: str | None = None
    in_process = True

    @property
    def predictor(self):
        return load_predictor(self.path)

    def describe(self) -> str:
        return self.predictor.provenance.label

    def check(self) -> None:
        self.predictor  # locates, checks and parses the archive, and fits: a missing file fails here, once

    def data_source(self) -> dict[str, Any]:
        from mnaslib.tabular.accel_nasbench import ACCEL_NASBENCH  # lazy: keeps TensorFlow, SciPy, sklearn out

        return {"name": "accel-nasbench", "fingerprint": f"sha256:{ACCEL_NASBENCH.sha256}",
                "source": str(ACCEL_NASBENCH.locate(self.path)), "predictor": self.predictor.name}

    def __call__(self, job: Job) -> ChildMetrics:
        from mnaslib.spaces.ops import arch_ops, arch_params  # lazy: keeps TensorFlow out of this module's import

        if not isinstance(job.arch, Arch) or len(job.arch.blocks) != 7:
            raise UserError("evaluator accel-predictor scores MnasNet-space networks (7 blocks of MBConv or conv "
                             f"layers), not {type(job.arch).__name__}")
        start = time.perf_counter()
        top1 = float(self.predictor.predict([job.arch])[0])
        return ChildMetrics(top1 / 100.0, self.describe(), trainable_params=arch_params(job.arch),
                            mult_adds=sum(op.mult_adds for op in arch_ops(job.arch)), train_seconds=0.0,
                            eval_seconds=time.perf_counter() - start, extra={"predicted_top1_percent": top1})
